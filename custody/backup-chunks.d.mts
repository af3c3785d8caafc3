// Types of backup-chunks.mjs (plain JavaScript so worker threads load it without the TypeScript loader).
export const TAG: number;
export const SIG_LEN: number;
export const SIG_DOMAIN: Buffer;
export function sealChunk(key: Buffer, prefix: Buffer, aad: Buffer, counter: number, final: boolean, plaintext: Buffer, out: Buffer[]): void;
export function tryOpenChunk(key: Buffer, prefix: Buffer, aad: Buffer, counter: number, final: boolean, sealed: Buffer): Buffer | undefined;
export class ByteQueue {
  length: number;
  push(b: Buffer): void;
  take(n: number): Buffer;
}
