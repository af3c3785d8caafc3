import { spawn } from 'node:child_process';
import { copyFile, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, PINNED_MEILI_SHA256 } from '../../core/config.ts';
import { meiliBinarySource, preparedMeiliBinary } from '../../appliance/meili-binary.ts';
import { MEILI_INDEXING_MEMORY, meiliArgs, meiliEnv, meiliPaths } from '../../appliance/meili-supervisor.ts';
import { sha256File } from '../../core/files.ts';
import { CLI, cleanup, tempDir } from '../support/appliance.ts';

describe('meilisearch binary and command line', () => {
  it('pins the packaged binary by SHA-256', async () => {
    const src = meiliBinarySource(loadConfig({ env: {} }));
    expect(src.pinned).toBe(true);
    expect(await sha256File(src.path)).toBe(PINNED_MEILI_SHA256);
  });

  it('refuses a tampered binary with a clear error, and serve exits non-zero', async () => {
    const dir = await tempDir();
    try {
      const tampered = join(dir, 'meilisearch');
      await copyFile(meiliBinarySource(loadConfig({ env: {} })).path, tampered);
      const fh = await open(tampered, 'r+');
      await fh.write(Buffer.from([0x90]), 0, 1, 4096);
      await fh.close();
      // The operator claims the official hash for a binary that is not the official one.
      const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: join(dir, 'data'), ARCHIVE_MEILI_BINARY: tampered, ARCHIVE_MEILI_SHA256: PINNED_MEILI_SHA256 } });
      await expect(preparedMeiliBinary(cfg)).rejects.toMatchObject({ code: 'MEILI_BINARY_HASH_MISMATCH' });

      const res = await new Promise<{ code: number | null; err: string }>((resolve) => {
        const p = spawn(process.execPath, [CLI, 'serve'], {
          env: {
            ...process.env,
            ARCHIVE_DATA_DIR: join(dir, 'data2'),
            ARCHIVE_HTTP_ADDR: '127.0.0.1:0',
            ARCHIVE_MEILI_PORT: '0',
            ARCHIVE_MEILI_BINARY: tampered,
            ARCHIVE_MEILI_SHA256: PINNED_MEILI_SHA256,
          },
        });
        let err = '';
        p.stderr.on('data', (d) => (err += d));
        p.on('exit', (code) => resolve({ code, err }));
      });
      expect(res.code).not.toBe(0);
      expect(res.err).toContain('MEILI_BINARY_HASH_MISMATCH');
      expect(res.err).toContain('校验失败');
    } finally {
      await cleanup(dir);
    }
  });

  it('accepts another binary only with its own hash named in config', async () => {
    const dir = await tempDir();
    try {
      const other = join(dir, 'meilisearch-other');
      await writeFile(other, '#!/bin/sh\necho other\n');
      const hash = await sha256File(other);
      const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: dir, ARCHIVE_MEILI_BINARY: other, ARCHIVE_MEILI_SHA256: hash } });
      expect(await sha256File(await preparedMeiliBinary(cfg))).toBe(hash);
      expect(() => loadConfig({ env: { ARCHIVE_MEILI_BINARY: other } })).toThrow(/meili.binary and meili.sha256/);
    } finally {
      await cleanup(dir);
    }
  });

  it('always builds a loopback, analytics-off command line whatever the config says', () => {
    for (const port of [7700, 1, 65535]) {
      const args = meiliArgs(meiliPaths('/d'), port);
      expect(args).toContain('--no-analytics');
      expect(args[args.indexOf('--http-addr') + 1]).toBe(`127.0.0.1:${port}`);
      expect(args.filter((a) => a === '--http-addr')).toHaveLength(1);
      // Bounded indexing memory: the default (2/3 of RAM) costs seconds of CPU per batch (every engine the tests start takes this flag).
      expect(args[args.indexOf('--max-indexing-memory') + 1]).toBe(MEILI_INDEXING_MEMORY);
    }
    expect(meiliEnv('k'.repeat(40))).toEqual({ PATH: '/usr/bin:/bin', MEILI_MASTER_KEY: 'k'.repeat(40), MEILI_NO_ANALYTICS: 'true' });
    // There is no setting that names a Meilisearch host at all.
    expect(() => loadConfig({ env: {}, overrides: { meili: { host: '0.0.0.0' } } })).toThrow(/meili/);
  });
});
