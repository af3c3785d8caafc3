import { damagePage, renderPage } from './damaged-page.ts';

/**
 * A short printed page whose fourth line is damaged on purpose: a dark shadow over that line
 * only (ink and paper both dark, blurred, noisy), the way a fold or a binding shadow swallows a
 * line. The other lines are clean. Returns the PNG, the printed lines and the damaged line's band.
 */
export const DAMAGED_LINE_TEXT = [
  '关于做好库房防汛安全检查工作的通知',
  '各科室、各直属单位：',
  '为切实做好今年汛期档案库房安全工作，确保档案实体安全，',
  '经研究决定，自2023年6月1日起开展库房防汛安全专项检查。',
  '请各单位对照检查清单逐项自查，发现隐患立即整改，',
  '并于6月15日前将自查报告报送办公室，联系电话0571-8765432。',
  '检查结果将纳入年度目标考核。',
];
export const DAMAGED_LINE = 3;

export async function pageWithDamagedLine(): Promise<{ png: Buffer; lines: string[]; band: { y0: number; y1: number } }> {
  const page = await renderPage(
    DAMAGED_LINE_TEXT.map((text) => ({ text })),
    { width: 1800, height: 1100, dpi: 300, font: 'AR PL UMing CN', size: 50, leading: 110, top: 40, left: 120 },
  );
  const band = page.bands[DAMAGED_LINE];
  const png = await damagePage(page, { contrast: { ink: 20, paper: 80 }, blur: 2.5, noise: 25, band }, 5);
  return { png, lines: DAMAGED_LINE_TEXT, band };
}
