import { describe, expect, it } from 'vitest';
import { commanderErrorZh } from '../../appliance/cli-errors.ts';

describe('commander parse errors in Chinese', () => {
  it('puts a Chinese line first and keeps the English in brackets', () => {
    expect(commanderErrorZh("error: unknown option '--usr'\n(Did you mean --user?)\n")).toBe("错误：没有选项“--usr”（unknown option '--usr'）\n（是否想输入：--user？）\n");
    expect(commanderErrorZh("error: missing required argument 'files'\n")).toBe("错误：缺少参数 files（missing required argument 'files'）\n");
    expect(commanderErrorZh('error: too many arguments. Expected 0 arguments but got 1.\n')).toContain('错误：参数过多，应为 0 个，实际 1 个');
    expect(commanderErrorZh("error: option '--limit <n>' argument missing\n")).toContain('错误：选项 --limit <n> 缺少取值');
  });

  it('leaves anything else as it was', () => {
    expect(commanderErrorZh('错误 [USAGE]：已是中文\n')).toBe('错误 [USAGE]：已是中文\n');
  });
});
