// Small SVG charts drawn from local data: bars over time, a line, a usage bar. No library.
import { h } from './dom.js';

const W = 320;
const H = 120;
const PAD = { l: 34, r: 8, t: 10, b: 22 };

function frame(title, id) {
  return h('svg.chart', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, id }, h('title', title));
}

function axis(svg, max, labels) {
  const x0 = PAD.l;
  const y0 = H - PAD.b;
  svg.append(h('line.axis', { x1: x0, y1: y0, x2: W - PAD.r, y2: y0 }), h('line.axis', { x1: x0, y1: PAD.t, x2: x0, y2: y0 }));
  svg.append(h('text.tick', { x: x0 - 4, y: PAD.t + 8, 'text-anchor': 'end' }, fmt(max)), h('text.tick', { x: x0 - 4, y: y0, 'text-anchor': 'end' }, '0'));
  if (labels.length) {
    svg.append(h('text.tick', { x: x0, y: H - 6 }, labels[0]), h('text.tick', { x: W - PAD.r, y: H - 6, 'text-anchor': 'end' }, labels[labels.length - 1]));
  }
}

/** The frame and axes of a chart of points [{label, value}], scaled to the largest value (at least 1). */
function scaledFrame(title, points, id) {
  const svg = frame(title, id);
  const max = Math.max(1, ...points.map((p) => p.value));
  axis(
    svg,
    max,
    points.map((p) => p.label),
  );
  return { svg, max };
}

function fmt(v) {
  return v >= 1000 ? `${(v / 1000).toFixed(1)}k` : String(Math.round(v * 10) / 10);
}

/** points: [{label, value}] as bars. */
export function barChart(title, points, id) {
  const { svg, max } = scaledFrame(title, points, id);
  const w = (W - PAD.l - PAD.r) / Math.max(1, points.length);
  points.forEach((p, i) => {
    const hgt = ((H - PAD.t - PAD.b) * p.value) / max;
    svg.append(h('rect.bar', { x: PAD.l + i * w + 1, y: H - PAD.b - hgt, width: Math.max(1, w - 2), height: hgt }, h('title', `${p.label}: ${fmt(p.value)}`)));
  });
  return svg;
}

/** points: [{label, value}] as a line with dots. */
export function lineChart(title, points, id) {
  const { svg, max } = scaledFrame(title, points, id);
  const step = (W - PAD.l - PAD.r) / Math.max(1, points.length - 1);
  const xy = points.map((p, i) => [PAD.l + i * step, H - PAD.b - ((H - PAD.t - PAD.b) * p.value) / max]);
  svg.append(h('polyline.line', { points: xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ') }));
  xy.forEach(([x, y], i) => svg.append(h('circle.dot', { cx: x, cy: y, r: 2.5 }, h('title', `${points[i].label}: ${fmt(points[i].value)}`))));
  return svg;
}

/** A horizontal used/total bar with the figures beside it. */
export function usageBar(title, used, total, label, id) {
  const svg = h('svg.chart.usage', { viewBox: `0 0 ${W} 40`, role: 'img', 'aria-label': title, id }, h('title', title));
  const frac = total > 0 ? Math.min(1, used / total) : 0;
  svg.append(
    h('rect.track', { x: 0, y: 6, width: W, height: 16, rx: 3 }),
    h('rect', { class: `fill ${frac > 0.95 ? 'down' : frac > 0.85 ? 'degraded' : 'ok'}`, x: 0, y: 6, width: W * frac, height: 16, rx: 3 }),
    h('text.tick', { x: 0, y: 36 }, label),
  );
  return svg;
}

/** Events (ISO times) counted in n equal buckets ending now; labels are HH:MM. */
export function bucketTimes(times, { spanMs, n = 12, now = Date.now() }) {
  const size = spanMs / n;
  const start = now - spanMs;
  const out = Array.from({ length: n }, (_, i) => ({ start: start + i * size, end: start + (i + 1) * size, value: 0 }));
  for (const t of times) {
    const i = Math.floor((Date.parse(t) - start) / size);
    if (i >= 0 && i < n) out[i].value++;
  }
  return out.map((b) => ({ ...b, label: hhmm(b.end) }));
}

export function hhmm(ms) {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}
