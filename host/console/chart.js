// Line charts as inline SVG, drawn by hand: one line per series, a dot
// per point with its exact value in a <title> (the table beside each chart
// is the accessible, exact alternative).

import { h, fmtValue } from './dom.js';

/** Line colours with at least 3:1 contrast on white. */
export const PALETTE = ['#0b57d0', '#b3261e', '#137333', '#8430ce', '#b05a00', '#007b83', '#5f6368', '#c2185b'];

const W = 1000;
const H = 280;
const M = { top: 12, right: 16, bottom: 34, left: 56 };

/**
 * series: [{label, points: [{x: ms, y: number|null}]}]; domain [from, to] in
 * ms; unit as the API names it (ratio, seconds, contacts, ...).
 */
export function lineChart({ series, from, to, unit, label, testid = 'chart' }) {
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter((y) => y !== null && Number.isFinite(y));
  let yMax = ys.length ? Math.max(...ys) : 1;
  if (unit === 'ratio') yMax = Math.max(1, yMax);
  else yMax = yMax > 0 ? niceCeil(yMax * 1.05) : 1;
  const yMin = Math.min(0, ...ys);
  const x = (t) => M.left + ((t - from) / Math.max(1, to - from)) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - ((v - yMin) / (yMax - yMin || 1)) * (H - M.top - M.bottom);

  const parts = [];
  for (let i = 0; i <= 4; i += 1) {
    const v = yMin + ((yMax - yMin) * i) / 4;
    parts.push(h('svg:line', { class: 'grid', x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }),
      h('svg:text', { x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmtValue(v, unit)));
  }
  const span = to - from;
  for (let i = 0; i <= 5; i += 1) {
    const t = from + (span * i) / 5;
    parts.push(h('svg:text', { x: x(t), y: H - M.bottom + 16, 'text-anchor': i === 0 ? 'start' : i === 5 ? 'end' : 'middle' }, timeLabel(t, span)));
  }
  parts.push(h('svg:line', { class: 'axis', x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom }),
    h('svg:line', { class: 'axis', x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom }));

  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const pts = s.points.filter((p) => p.y !== null && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    if (pts.length > 1) {
      parts.push(h('svg:polyline', {
        fill: 'none', stroke: colour, 'stroke-width': 2,
        points: pts.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' '),
      }));
    }
    for (const p of pts) {
      parts.push(h('svg:circle', { cx: x(p.x), cy: y(p.y), r: 3.5, fill: colour, 'data-testid': `${testid}-point`, 'data-value': p.y },
        h('svg:title', {}, `${s.label}: ${p.y} at ${new Date(p.x).toLocaleString()}`)));
    }
  });

  return h('figure', { class: 'chart-figure' },
    h('svg:svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, 'data-testid': testid }, parts),
    h('ul', { class: 'legend', 'aria-label': 'Series' },
      series.map((s, i) => h('li', {},
        h('svg:svg', { class: 'swatch', viewBox: '0 0 10 10', 'aria-hidden': 'true' },
          h('svg:rect', { width: 10, height: 10, fill: PALETTE[i % PALETTE.length] })),
        s.label))));
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((c) => c >= v) ?? v;
}

function timeLabel(t, span) {
  const d = new Date(t);
  const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  return span <= 86400000 ? hm : `${d.getMonth() + 1}/${d.getDate()} ${hm}`;
}
