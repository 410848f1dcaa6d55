// Agent daily report: every KPI measure for one calendar day (local time),
// one bucket for the whole day, grouped by agent and by team
// (POST /v1/kpis/query per measure and dimension).

import { h, fill, field, table, fmtDay, fmtValue } from './dom.js';
import { api } from './api.js';

/** [from, to) of a local calendar day given as YYYY-MM-DD. */
export function dayWindow(day) {
  const [y, m, d] = day.split('-').map(Number);
  return [new Date(y, m - 1, d).getTime(), new Date(y, m - 1, d + 1).getTime()];
}

export async function render(root, { title, params, navigate }) {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(params.get('day') || '') ? params.get('day') : fmtDay(new Date());
  const dayIn = h('input', { type: 'date', value: day, required: true, 'data-testid': 'report-day' });
  const form = h('form', { class: 'row', 'data-testid': 'report-form' }, field('Day', dayIn),
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'report-submit' }, 'Show'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    navigate('report', { day: dayIn.value });
  });
  const out = h('div', { 'data-testid': 'report-result' }, h('p', { class: 'muted' }, 'Loading…'));
  fill(root, h('h1', { tabindex: '-1' }, title), form, out);

  const [from, to] = dayWindow(day);
  const query = (measure, dim) => api('POST', '/v1/kpis/query', { measure, from, to, bucket_ms: to - from, group_by: [dim] });
  try {
    const [{ measures }, { agents }] = await Promise.all([api('GET', '/v1/kpis/measures'), api('GET', '/v1/agents')]);
    const [byAgent, byTeam] = await Promise.all(['agent', 'team'].map((dim) => Promise.all(measures.map((m) => query(m.name, dim)))));
    const agentRows = rowsOf(byAgent, 'agent', agents.map((a) => a.id));
    const teamNames = [...new Set(agents.flatMap((a) => a.teams || []))];
    const teamRecorded = byTeam.some((s) => s.points.some((p) => p.group.team));
    const teamRows = teamRecorded ? rowsOf(byTeam, 'team', teamNames) : derivedTeams(agentRows, agents, measures, teamNames);
    const names = new Map(agents.map((a) => [a.id, a.name]));
    fill(out,
      h('h2', {}, `Agents on ${day}`),
      reportTable('report-agents', agentRows, measures, (r) => (r.key ? (names.get(r.key) ? `${names.get(r.key)} (${r.key})` : r.key) : '(no agent)'), 'report-agent'),
      h('h2', {}, `Teams on ${day}`),
      teamRecorded ? null : h('p', { class: 'muted', 'data-testid': 'report-team-note' },
        'The active KPI definitions record no team dimension: sums are added up from each team’s agents; ratios and means cannot be (the API does not return their denominators) and show —.'),
      reportTable('report-teams', teamRows, measures, (r) => r.key || '(no team)', 'report-team'));
  } catch (e) {
    fill(out, h('p', { class: 'error', role: 'alert' }, `Could not build the report: ${e.message}`));
  }
  return undefined;
}

/** One row per group value: {key, values: {measure: {value, samples}}}. */
function rowsOf(seriesList, dim, known) {
  const rows = new Map(known.map((k) => [k, { key: k, values: {} }]));
  for (const s of seriesList) {
    for (const p of s.points) {
      const k = p.group[dim] ?? '';
      if (!rows.has(k)) rows.set(k, { key: k, values: {} });
      rows.get(k).values[s.measure.name] = { value: p.value, samples: p.samples };
    }
  }
  return [...rows.values()].sort((a, b) => (a.key === '') - (b.key === '') || a.key.localeCompare(b.key));
}

function derivedTeams(agentRows, agents, measures, teamNames) {
  const teamsOf = new Map(agents.map((a) => [a.id, a.teams || []]));
  return teamNames.sort().map((team) => {
    const values = {};
    for (const m of measures.filter((x) => x.aggregation === 'sum')) {
      let value = 0;
      let samples = 0;
      for (const r of agentRows) {
        const v = r.values[m.name];
        if (v && (teamsOf.get(r.key) || []).includes(team)) {
          value += v.value ?? 0;
          samples += v.samples;
        }
      }
      values[m.name] = { value, samples };
    }
    return { key: team, values };
  });
}

function reportTable(testid, rows, measures, name, rowPrefix) {
  return table({
    testid,
    columns: [
      { label: rowPrefix === 'report-agent' ? 'Agent' : 'Team', cell: name },
      ...measures.map((m) => ({
        label: `${m.name.replaceAll('_', ' ')} (${m.unit})`,
        num: true,
        cell: (r) => {
          const v = r.values[m.name];
          return h('span', {
            'data-testid': `${rowPrefix}-${r.key}-${m.name}`, 'data-value': v ? String(v.value) : '',
            title: v ? `exact: ${v.value}; ${v.samples} samples` : 'no samples',
          }, v ? fmtValue(v.value, m.unit) : '—');
        },
      })),
    ],
    rows,
    rowTestid: (r) => `${rowPrefix}-${r.key}`,
    empty: 'Nobody to report on.',
  });
}
