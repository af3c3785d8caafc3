import { createHash, verify } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ApplianceError } from '../core/index.ts';
import { CHUNK_SIZE, SIG_DOMAIN, SIG_LEN, assertTrustedSigner, badSignature, corrupt, readBackupEnvelope, type BackupHeaderInfo } from './backup-crypto.ts';
import { ed25519Public } from './backup-keys.ts';
import { orderChain } from './backup-verify.ts';
import { progressMeter, type BackupProgress } from './backup.ts';

/**
 * What the 系统管理员 can check without any secret: the header is intact and names a trusted
 * signer, the file's length is whole chunks and a signature, and the appliance's signature over
 * every byte holds. What it cannot say: that the chunks decrypt and the archive inside is whole —
 * that needs a recipient's private key (verifyBackup with an identity).
 */
export interface StructureChecked extends BackupHeaderInfo {
  file: string;
  chunks: number;
  bytes: number;
  signer: string;
  recipients: string[];
}

const TAG = 16;

export async function verifyBackupStructureFile(file: string, trustedSigners: string[], onProgress?: (p: BackupProgress) => void): Promise<StructureChecked> {
  const size = await stat(file).then(
    (s) => s.size,
    (e: Error) => {
      throw new ApplianceError('BACKUP_NOT_FOUND', `无法打开备份文件：${file}（${e.message}）`, `cannot open backup ${file}`);
    },
  );
  const env = await readBackupEnvelope(file);
  const signer = assertTrustedSigner(env, trustedSigners);
  const rest = size - SIG_LEN - env.offset;
  if (rest < TAG) throw corrupt('文件被截断（缺少数据块或签名）', 'file too short for one chunk and the signature', { chunk: 1, reason: 'truncated' });
  const whole = CHUNK_SIZE + TAG;
  const chunks = Math.ceil(rest / whole);
  if (rest - (chunks - 1) * whole < TAG) throw corrupt(`文件被截断（第 ${chunks} 块不完整）`, `last chunk shorter than a tag`, { chunk: chunks, reason: 'truncated' });
  const h = createHash('sha256');
  const meter = progressMeter('verify', size, onProgress);
  const body = createReadStream(file, { start: 0, end: size - SIG_LEN - 1, highWaterMark: 1 << 20 });
  for await (const b of body) {
    h.update(b as Buffer);
    meter.add((b as Buffer).length);
  }
  const sig = await new Promise<Buffer>((res, rej) => {
    const parts: Buffer[] = [];
    createReadStream(file, { start: size - SIG_LEN, end: size - 1 })
      .on('data', (d) => parts.push(d as Buffer))
      .on('end', () => res(Buffer.concat(parts)))
      .on('error', rej);
  });
  if (sig.length !== SIG_LEN || !verify(null, Buffer.concat([SIG_DOMAIN, h.digest()]), ed25519Public(signer), sig)) throw badSignature();
  meter.finish();
  return { file, ...env.info, chunks, bytes: size, signer: env.signer, recipients: env.recipients };
}

/** Structure and signature of several files, and their chain when a full backup is among them. */
export async function verifyBackupStructure(
  files: string[],
  trustedSigners: string[],
  onProgress?: (p: BackupProgress) => void,
): Promise<{ ok: true; contentChecked: false; backups: StructureChecked[]; chain: boolean }> {
  const backups: StructureChecked[] = [];
  for (const f of files) backups.push(await verifyBackupStructureFile(f, trustedSigners, onProgress));
  const chain = backups.some((b) => b.kind === 'full');
  if (chain) orderChain(backups);
  return { ok: true, contentChecked: false, backups, chain };
}
