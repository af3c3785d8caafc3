// commander writes its own parse errors in English; the people at this console read Chinese.
// The English stays after the Chinese so a message can still be searched for.

const RULES: Array<[RegExp, (...m: string[]) => string]> = [
  [/^error: unknown command '(.*)'$/, (c) => `错误：没有命令“${c}”`],
  [/^error: unknown option '(.*)'$/, (o) => `错误：没有选项“${o}”`],
  [/^error: required option '(.*)' not specified$/, (o) => `错误：缺少必需的选项 ${o}`],
  [/^error: missing required argument '(.*)'$/, (a) => `错误：缺少参数 ${a}`],
  [/^error: option '(.*)' argument missing$/, (o) => `错误：选项 ${o} 缺少取值`],
  [/^error: option '(.*)' argument '(.*)' is invalid\.(.*)$/, (o, v) => `错误：选项 ${o} 的取值“${v}”无效`],
  [/^error: too many arguments(?: for '(.*)')?\. Expected (\d+) arguments? but got (\d+)\.$/, (c, e, g) => `错误：${c ? `命令 ${c} 的` : ''}参数过多，应为 ${e} 个，实际 ${g} 个`],
  [/^error: (.*) cannot be used with (.*)$/, (a, b) => `错误：${a} 不能与 ${b} 同时使用`],
];

/** Chinese first for commander's parse errors ("error: …", "(Did you mean …?)"); other text unchanged. */
export function commanderErrorZh(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const did = /^\(Did you mean (?:one of )?(.*)\?\)$/.exec(line);
      if (did) return `（是否想输入：${did[1]}？）`;
      for (const [re, zh] of RULES) {
        const m = re.exec(line);
        if (m) return `${zh(...m.slice(1).map((s) => s ?? ''))}（${line.replace(/^error: /, '')}）`;
      }
      return line;
    })
    .join('\n');
}
