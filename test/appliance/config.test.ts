import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { cleanup, tempDir } from '../support/appliance.ts';

describe('configuration', () => {
  it('has laptop defaults', () => {
    const cfg = loadConfig({ env: {}, cwd: '/home/x' });
    expect(cfg.dataDir).toBe('/home/x/data');
    expect(cfg.httpAddr).toBe('127.0.0.1:8080');
    expect(cfg.classificationCeiling).toBe('内部');
  });

  it('layers file < environment < overrides', async () => {
    const dir = await tempDir();
    try {
      const file = join(dir, 'appliance.json');
      await writeFile(file, JSON.stringify({ httpAddr: '127.0.0.1:9000', dataDir: '/srv/a', meili: { port: 7800 } }));
      const cfg = loadConfig({ env: { ARCHIVE_CONFIG: file, ARCHIVE_DATA_DIR: '/srv/b' } });
      expect(cfg).toMatchObject({ httpAddr: '127.0.0.1:9000', dataDir: '/srv/b', meili: { port: 7800 } });
    } finally {
      await cleanup(dir);
    }
  });

  it('reports every invalid setting at once, in Chinese, with its key', () => {
    try {
      loadConfig({ env: { ARCHIVE_HTTP_ADDR: 'nonsense', ARCHIVE_CEILING: '超级', ARCHIVE_CLAMD: 'tcp:10.0.0.5:3310' } });
      expect.unreachable();
    } catch (e) {
      const err = e as { code: string; zh: string };
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.zh).toContain('配置有误');
      expect(err.zh).toContain('httpAddr');
      expect(err.zh).toContain('classificationCeiling');
      expect(err.zh).toContain('clamd');
    }
  });

  it('names a missing or broken config file', async () => {
    expect(() => loadConfig({ env: { ARCHIVE_CONFIG: '/nonexistent/x.json' } })).toThrow(expect.objectContaining({ code: 'CONFIG_FILE_MISSING' }));
    const dir = await tempDir();
    try {
      await writeFile(join(dir, 'bad.json'), '{ not json');
      expect(() => loadConfig({ env: { ARCHIVE_CONFIG: join(dir, 'bad.json') } })).toThrow(expect.objectContaining({ code: 'CONFIG_FILE_INVALID' }));
    } finally {
      await cleanup(dir);
    }
  });
});
