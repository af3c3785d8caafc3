import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';

describe('office identity and federation address in the configuration', () => {
  const env = (e: Record<string, string>) => ({ ARCHIVE_DATA_DIR: '/tmp/x', ...e });

  it('reads ARCHIVE_OFFICE_CODE, ARCHIVE_OFFICE_NAME and ARCHIVE_FEDERATION_ADDR; federation is off by default', () => {
    expect(loadConfig({ env: env({}) }).federation.addr).toBeUndefined();
    const c = loadConfig({ env: env({ ARCHIVE_OFFICE_CODE: 'J012', ARCHIVE_OFFICE_NAME: '呼和浩特市委编办', ARCHIVE_FEDERATION_ADDR: '10.1.2.3:7443' }) });
    expect(c.office).toEqual({ code: 'J012', name: '呼和浩特市委编办' });
    expect(c.federation.addr).toBe('10.1.2.3:7443');
  });

  it('refuses a bad office code, an empty name, a bad address, and federation without an office, with Chinese messages', () => {
    const problem = (e: Record<string, string>) => {
      try {
        loadConfig({ env: env(e) });
      } catch (err) {
        return (err as { code: string; zh: string }).code + ' ' + (err as { zh: string }).zh;
      }
      return 'accepted';
    };
    expect(problem({ ARCHIVE_OFFICE_CODE: 'J 012' })).toMatch(/CONFIG_INVALID[\s\S]*office\.code: 单位代码（全宗号）须为/);
    expect(problem({ ARCHIVE_OFFICE_CODE: '-J012' })).toMatch(/office\.code/);
    expect(problem({ ARCHIVE_OFFICE_CODE: 'J012/../x' })).toMatch(/office\.code/);
    expect(problem({ ARCHIVE_OFFICE_NAME: '   ' })).toMatch(/office\.name: 单位名称不能为空/);
    expect(problem({ ARCHIVE_OFFICE_NAME: '名'.repeat(65) })).toMatch(/office\.name: 单位名称最长 64 字/);
    expect(problem({ ARCHIVE_OFFICE_CODE: 'J012', ARCHIVE_OFFICE_NAME: '某单位', ARCHIVE_FEDERATION_ADDR: '10.1.2.3' })).toMatch(/federation\.addr/);
    expect(problem({ ARCHIVE_FEDERATION_ADDR: '10.1.2.3:7443' })).toMatch(/federation\.addr: 启用联合检索（federation\.addr）须先设置单位代码和名称/);
  });
});
