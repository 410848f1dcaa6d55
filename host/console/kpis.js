// KPIs over time: pick a measure (GET /v1/kpis/measures), a window, a
// bucket, dimensions to group by and a filter; the chart and the table
// below it show exactly what POST /v1/kpis/query answered.

import { h, fill, field, table, fmtTime, fmtValue, toLocalInput, fromLocalInput } from './dom.js';
import { api } from './api.js';
import { lineChart } from './chart.js';

export const DIMENSIONS = ['queue', 'channel', 'agent', 'team', 'topic'];
const WINDOWS = [['1h', 3600e3], ['8h', 8 * 3600e3], ['24h', 86400e3], ['7d', 7 * 86400e3], ['30d', 30 * 86400e3]];
const BUCKETS = [['1 min', 60e3], ['5 min', 300e3], ['15 min', 900e3], ['1 hour', 3600e3], ['1 day', 86400e3]];

/** The query for the picked window: from/to aligned to the bucket. */
export function windowQuery({ measure, window, bucket, group, filterDim, filterValue, from, to, now = Date.now() }) {
  let f;
  let t;
  if (window === 'custom') {
    f = from;
    t = to;
  } else {
    const span = WINDOWS.find(([k]) => k === window)?.[1] ?? 8 * 3600e3;
    t = Math.ceil(now / bucket) * bucket;
    f = Math.floor((t - span) / bucket) * bucket;
  }
  const q = { measure, from: f, to: t, bucket_ms: bucket, group_by: group };
  if (filterDim && filterValue) q.filter = { [filterDim]: filterValue };
  return q;
}

export async function render(root, { title, params, navigate }) {
  const errorEl = h('p', { class: 'error', role: 'alert', 'data-testid': 'kpi-error' });
  const out = h('div', { 'data-testid': 'kpi-result' });
  fill(root, h('h1', { tabindex: '-1' }, title), errorEl, out);
  const { measures } = await api('GET', '/v1/kpis/measures');
  if (!measures.length) {
    errorEl.textContent = 'No KPI measures: no KPI definition plugin is active.';
    return undefined;
  }
  const now = Date.now();
  const p = {
    measure: params.get('measure') || (measures.find((m) => m.name === 'service_level') ?? measures[0]).name,
    window: params.get('window') || '8h',
    bucket: Number(params.get('bucket')) || 3600e3,
    group: (params.get('group') ?? 'queue').split(',').filter((d) => DIMENSIONS.includes(d)),
    filterDim: params.get('fdim') || '',
    filterValue: params.get('fval') || '',
    from: Number(params.get('from')) || now - 8 * 3600e3,
    to: Number(params.get('to')) || now,
  };

  const measureSel = h('select', { 'data-testid': 'kpi-measure' },
    measures.map((m) => h('option', { value: m.name, selected: m.name === p.measure }, `${m.name} (${m.unit})`)));
  const windowSel = h('select', { 'data-testid': 'kpi-window' },
    [...WINDOWS.map(([k]) => k), 'custom'].map((k) => h('option', { value: k, selected: k === p.window }, k === 'custom' ? 'custom…' : `last ${k}`)));
  const bucketSel = h('select', { 'data-testid': 'kpi-bucket' },
    BUCKETS.map(([k, ms]) => h('option', { value: ms, selected: ms === p.bucket }, k)));
  const fromIn = h('input', { type: 'datetime-local', 'data-testid': 'kpi-from', value: toLocalInput(p.from) });
  const toIn = h('input', { type: 'datetime-local', 'data-testid': 'kpi-to', value: toLocalInput(p.to) });
  const custom = h('div', { class: 'row', hidden: p.window !== 'custom' }, field('From', fromIn), field('To', toIn));
  windowSel.addEventListener('change', () => {
    custom.hidden = windowSel.value !== 'custom';
  });
  const groups = h('fieldset', {}, h('legend', {}, 'Group by'),
    DIMENSIONS.map((d) => h('label', {}, h('input', { type: 'checkbox', value: d, checked: p.group.includes(d), 'data-testid': `kpi-group-${d}` }), ` ${d}`)));
  const fdim = h('select', { 'data-testid': 'kpi-filter-dim' },
    h('option', { value: '' }, 'no filter'), DIMENSIONS.map((d) => h('option', { value: d, selected: d === p.filterDim }, d)));
  const fval = h('input', { type: 'text', size: 12, 'data-testid': 'kpi-filter-value', value: p.filterValue });
  const describe = h('p', { class: 'muted' }, measures.find((m) => m.name === p.measure)?.description ?? '');
  measureSel.addEventListener('change', () => {
    describe.textContent = measures.find((m) => m.name === measureSel.value)?.description ?? '';
  });

  const form = h('form', { class: 'panel', 'data-testid': 'kpi-form' },
    h('div', { class: 'row' },
      field('Measure', measureSel), field('Window', windowSel), field('Bucket', bucketSel), groups,
      field('Filter on', fdim), field('equal to', fval),
      h('button', { type: 'submit', class: 'primary', 'data-testid': 'kpi-submit' }, 'Show')),
    custom, describe);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = {
      measure: measureSel.value, window: windowSel.value, bucket: bucketSel.value,
      group: [...groups.querySelectorAll('input:checked')].map((i) => i.value).join(','),
      fdim: fdim.value, fval: fval.value.trim(),
    };
    if (windowSel.value === 'custom') {
      next.from = fromLocalInput(fromIn.value);
      next.to = fromLocalInput(toIn.value);
    }
    navigate('kpis', next);
  });
  root.insertBefore(form, errorEl);

  const q = windowQuery(p);
  let series;
  try {
    series = await api('POST', '/v1/kpis/query', q);
  } catch (e) {
    errorEl.textContent = `The query was refused: ${e.message}`;
    return undefined;
  }
  showResult(out, q, series);
  return undefined;
}

/** Chart + exact table of a KPI answer. */
export function showResult(out, q, series) {
  const unit = series.measure.unit;
  const label = (g) => (q.group_by.length ? q.group_by.map((d) => `${d}=${g[d] === '' ? '(not recorded)' : g[d]}`).join(', ') : 'all');
  const bySeries = new Map();
  for (const pt of series.points) {
    const key = label(pt.group);
    if (!bySeries.has(key)) bySeries.set(key, { label: key, points: [] });
    bySeries.get(key).points.push({ x: pt.start, y: pt.value });
  }
  const unrecorded = q.group_by.filter((d) => series.points.length && series.points.every((pt) => pt.group[d] === ''));
  fill(out,
    h('h2', {}, `${series.measure.name} (unit: ${unit}, aggregated as ${series.measure.aggregation})`),
    unrecorded.length
      ? h('p', { class: 'muted', 'data-testid': 'kpi-unrecorded' },
        `The active KPI definitions record no ${unrecorded.join(' or ')} dimension, so every point has an empty value there.`)
      : null,
    series.points.length
      ? lineChart({ series: [...bySeries.values()], from: q.from, to: q.to, unit, label: `${series.measure.name} over time`, testid: 'kpi-chart' })
      : h('p', { class: 'muted', 'data-testid': 'kpi-empty' }, 'No data in this window.'),
    table({
      testid: 'kpi-table',
      caption: 'Points as the API returned them',
      columns: [
        { label: 'Bucket start', cell: (pt) => fmtTime(pt.start) },
        ...q.group_by.map((d) => ({ label: d, cell: (pt) => pt.group[d] || '—' })),
        { label: 'Value', num: true, cell: (pt, i) => h('span', { 'data-testid': `kpi-value-${i}`, 'data-value': pt.value === null ? 'null' : String(pt.value) }, pt.value === null ? 'null' : String(pt.value)) },
        { label: 'Shown as', num: true, cell: (pt) => fmtValue(pt.value, unit) },
        { label: 'Samples', num: true, cell: (pt) => pt.samples },
      ],
      rows: series.points,
      rowTestid: (_, i) => `kpi-row-${i}`,
      empty: 'No points.',
    }),
    h('details', {}, h('summary', {}, 'Query sent'), h('pre', { class: 'json', 'data-testid': 'kpi-query' }, JSON.stringify(q, null, 2))));
}
