import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { naturalSort, planItems } from '../../ingest/batch-plan.ts';
import { safeFileName } from '../../ingest/safe-name.ts';
import { SHARED, cleanup, tempDir } from '../support/appliance.ts';

describe('grouping pages into items', () => {
  it('plans the sample items folder: one item per file, one per folder of pages, pages in natural order', async () => {
    const { items, problems } = await planItems([join(SHARED, 'samples/items')]);
    expect(problems).toEqual([]);
    expect(items.map((i) => i.label)).toEqual(['S0001.tif', 'S0002.tif', 'S0003', 'S0004', 'S0005.pdf', 'S0006.tif', 'S0007.tif', 'S0008']);
    expect(items[2].files.map((f) => f.split('/').pop())).toEqual(['page-001.jpg', 'page-002.jpg']);
  });

  it('orders pages as a person numbers them', () => {
    expect(naturalSort(['p10.jpg', 'p2.jpg', 'p1.jpg'])).toEqual(['p1.jpg', 'p2.jpg', 'p10.jpg']);
    expect(naturalSort(['第11页.png', '第3页.png', 'page-010.jpg', 'page-009.jpg'])).toEqual(['第3页.png', '第11页.png', 'page-009.jpg', 'page-010.jpg']);
  });

  it('reports what cannot become an item instead of dropping it', async () => {
    const dir = await tempDir();
    try {
      await mkdir(join(dir, 'batch'));
      await writeFile(join(dir, 'batch', 'notes.docx'), 'x');
      await writeFile(join(dir, 'batch', 'empty.tif'), '');
      await writeFile(join(dir, 'batch', 'ok.tif'), 'x');
      const { items, problems } = await planItems([join(dir, 'batch'), join(dir, 'missing')]);
      expect(items.map((i) => i.label)).toEqual(['ok.tif']);
      expect(problems.map((p) => p.code).sort()).toEqual(['EMPTY_FILE', 'PATH_NOT_FOUND', 'UNSUPPORTED_FILE']);
    } finally {
      await cleanup(dir);
    }
  });

  it('reports a file name that is not UTF-8 with a readable name', async () => {
    const dir = await tempDir();
    try {
      const { writeFileSync, mkdirSync } = await import('node:fs');
      mkdirSync(join(dir, 'b'));
      // "档案.tif" in GBK, as an old Windows scanner PC would write it.
      const gbk = Buffer.from([0xb5, 0xb5, 0xb0, 0xb8, 0x2e, 0x74, 0x69, 0x66]);
      writeFileSync(Buffer.concat([Buffer.from(join(dir, 'b') + '/'), gbk]), 'x');
      writeFileSync(join(dir, 'b', 'good.tif'), 'x');
      const { items, problems } = await planItems([join(dir, 'b')]);
      expect(items.map((i) => i.label)).toEqual(['good.tif']);
      expect(problems).toHaveLength(1);
      expect(problems[0].code).toBe('NAME_NOT_UTF8');
      expect(problems[0].message).toContain('档案.tif');
    } finally {
      await cleanup(dir);
    }
  });

  it('refuses traversal and junk in received file names', () => {
    for (const bad of ['../x.jpg', '..\\..\\x.jpg', '/etc/passwd', 'a/../../b.jpg', 'C:\\x.jpg', '', '.', '\u0000']) {
      expect(() => safeFileName(bad), bad).toThrow(expect.objectContaining({ code: 'UNSAFE_FILE_NAME' }));
    }
    expect(safeFileName('scans/第1页.jpg')).toBe('第1页.jpg');
    expect(safeFileName('.hidden.png')).toBe('_.hidden.png');
  });
});
