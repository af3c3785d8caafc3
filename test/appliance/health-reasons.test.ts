import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { diskHealth } from '../../core/disk.ts';
import { ApplianceError } from '../../core/errors.ts';
import { healthReport } from '../../core/health.ts';
import { ocrDataStatus } from '../../ingest/index.ts';

/** The operators read Chinese: every health reason is Chinese, technical tokens kept. */
describe('health reasons in Chinese', () => {
  it('disk: free space in GiB, or why it cannot be read', async () => {
    const d = await diskHealth(tmpdir());
    expect(d.reason).toMatch(/^可用空间(仅)? \d+\.\d GiB/);
    const gone = await diskHealth('/nonexistent-archive-dir');
    expect(gone.status).toBe('down');
    expect(gone.reason).toMatch(/^无法读取磁盘用量：ENOENT/);
  });

  it('OCR data: installed languages, or the missing one and its package', () => {
    expect(ocrDataStatus('chi_sim')).toMatchObject({ status: 'ok', reason: '已安装：chi_sim' });
    expect(ocrDataStatus('chi_sim+zzz')).toMatchObject({ status: 'down', reason: '未安装：zzz（npm 包 @tesseract.js-data/zzz），无法识别文字' });
  });

  it('a check that throws is down with its Chinese message', async () => {
    const r = await healthReport({
      plain: () => {
        throw new Error('boom');
      },
      known: async () => {
        throw new ApplianceError('X', '组件不可用。', 'component unavailable');
      },
    });
    expect(r.status).toBe('down');
    expect(r.components.plain).toEqual({ status: 'down', reason: '检查出错：boom' });
    expect(r.components.known).toEqual({ status: 'down', reason: '组件不可用。' });
  });
});
