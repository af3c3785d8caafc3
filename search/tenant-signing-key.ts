import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type MeiliConnection, ApplianceError, dataPath, writeFileAtomic } from '../core/index.ts';
import { adminClient, meiliError } from './meili-admin.ts';

/** The API key that signs tenant tokens: may only search, only the appliance's indexes. */
export interface SearchKey {
  uid: string;
  key: string;
}

export function searchKeyPath(dataDir: string): string {
  return dataPath(dataDir, 'config', 'meili-search-key.json');
}

async function readStored(path: string): Promise<SearchKey | undefined> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const v = JSON.parse(raw) as Partial<SearchKey>;
    if (typeof v.uid === 'string' && typeof v.key === 'string') return { uid: v.uid, key: v.key };
  } catch {
    /* fall through */
  }
  throw new ApplianceError('SEARCH_KEY_INVALID', `检索密钥文件内容无效：${path}（可删除后重启以重新生成）`, `invalid search key file ${path}`, { status: 500 });
}

/**
 * Create the search key once with the master key and keep its uid and value in config/ (0600).
 * A key value depends on the master key: after a restore under another master key the stored
 * value no longer matches, and the key is recreated under the same uid.
 */
export async function ensureSearchKey(conn: MeiliConnection, dataDir: string, indexes: string[]): Promise<SearchKey> {
  const path = searchKeyPath(dataDir);
  const stored = await readStored(path);
  const client = adminClient(conn);
  const uid = stored?.uid ?? randomUUID();
  try {
    const existing = await client.getKey(uid);
    const sameScope = existing.actions.length === 1 && existing.actions[0] === 'search' && [...existing.indexes].sort().join() === [...indexes].sort().join();
    if (sameScope && existing.expiresAt === null) {
      if (stored?.key !== existing.key) await writeFileAtomic(path, `${JSON.stringify({ uid, key: existing.key })}\n`, 0o600);
      return { uid, key: existing.key };
    }
    await client.deleteKey(uid);
  } catch (e) {
    const code = (e as { cause?: { code?: string } }).cause?.code;
    if (code !== 'api_key_not_found') throw meiliError(e, 'read search key');
  }
  try {
    const created = await client.createKey({
      uid,
      name: 'archive-search',
      description: 'Signs per-session tenant tokens of the archive appliance (search only).',
      actions: ['search'],
      indexes,
      expiresAt: null,
    });
    await writeFileAtomic(path, `${JSON.stringify({ uid, key: created.key })}\n`, 0o600);
    return { uid, key: created.key };
  } catch (e) {
    throw meiliError(e, 'create search key');
  }
}
