import { randomBytes } from 'node:crypto';
import { readFile, stat, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplianceError, writeFileAtomic } from '../core/index.ts';

export function meiliKeyPath(dataDir: string): string {
  return join(dataDir, 'config', 'meili-master.key');
}

/**
 * The Meilisearch master key: generated on first start, kept in the data dir with mode 0600,
 * never logged and never passed on a command line (where `ps` would show it).
 */
export async function meiliMasterKey(dataDir: string): Promise<string> {
  const path = meiliKeyPath(dataDir);
  try {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) await chmod(path, 0o600);
    const key = (await readFile(path, 'utf8')).trim();
    if (key.length < 32) throw new ApplianceError('MEILI_KEY_INVALID', `Meilisearch 主密钥文件内容无效：${path}`, `invalid master key file ${path}`, { status: 500 });
    return key;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const key = randomBytes(32).toString('base64url');
  await writeFileAtomic(path, `${key}\n`, 0o600);
  return key;
}
