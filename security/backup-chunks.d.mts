export declare const TAG: 16;
export declare function chunkNonce(prefix: Buffer, counter: number, final: boolean): Buffer;
export declare function sealChunk(key: Buffer, prefix: Buffer, aad: Buffer, counter: number, final: boolean, plaintext: Buffer, out: Buffer[]): void;
export declare function tryOpenChunk(key: Buffer, prefix: Buffer, aad: Buffer, counter: number, final: boolean, sealed: Buffer): Buffer | undefined;
export declare class ByteQueue {
  length: number;
  push(b: Buffer): void;
  take(n: number): Buffer;
  peek(n: number): Buffer;
}
