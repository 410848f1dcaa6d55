// Agent daily report (GET /v1/reports/agents for one local calendar day):
// per agent and per team, every KPI measure, schedule adherence and
// conformance, contacts per logged-in hour, and each goal's progress; the
// day's schedules as timelines (GET /v1/schedules); the goals, which
// admins and operators set and remove (PUT/DELETE /v1/goals/{id}).

import { h, fill, field, table, fmtDay, fmtValue, announce, confirmDialog } from './dom.js';
import { api, can, qs } from './api.js';

/** [from, to) of a local calendar day given as YYYY-MM-DD. */
export function dayWindow(day) {
  const [y, m, d] = day.split('-').map(Number);
  return [new Date(y, m - 1, d).getTime(), new Date(y, m - 1, d + 1).getTime()];
}

const HOST_UNITS = { adherence: 'ratio', conformance: 'ratio', contacts_per_hour: 'per hour' };
const ACTIVITIES = ['available', 'break', 'lunch', 'training', 'meeting'];
const label = (m) => m.replaceAll('_', ' ');
const pad = (n) => String(n).padStart(2, '0');
const hhmm = (ms) => `${pad(new Date(ms).getHours())}:${pad(new Date(ms).getMinutes())}`;

/** A goal's scope as {kind: all|agent|team, id}: `"all"`, `{"agent": "a-1"}` (or `scope` + `id`). */
export function scopeOf(g) {
  if (g.scope && typeof g.scope === 'object') {
    const [kind, id] = Object.entries(g.scope)[0] ?? ['all', null];
    return { kind, id };
  }
  return { kind: g.scope ?? 'all', id: g.scope === 'all' ? null : g.id };
}

/** met / missed / none for a goal's progress. */
export const goalLevel = (p) => (p.met === true ? 'met' : p.met === false ? 'missed' : 'none');
const GOAL_WORD = { met: ['ok', 'met'], missed: ['bad', 'not met'], none: ['none', 'no data'] };

export async function render(root, { me, title, params, navigate }) {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(params.get('day') || '') ? params.get('day') : fmtDay(new Date());
  const dayIn = h('input', { type: 'date', value: day, required: true, 'data-testid': 'report-day' });
  const form = h('form', { class: 'row', 'data-testid': 'report-form' }, field('Day', dayIn),
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'report-submit' }, 'Show'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    navigate('report', { day: dayIn.value });
  });
  const out = h('div', { 'data-testid': 'report-result' }, h('p', { class: 'muted' }, 'Loading…'));
  const goalsEl = h('div', { 'data-testid': 'goals' });
  fill(root, h('h1', { tabindex: '-1' }, title), form, out, h('h2', {}, 'Goals'), goalsEl);

  const [from, to] = dayWindow(day);
  let units = {};
  let measures = [];
  const load = async () => {
    try {
      const [m, report, { schedules }] = await Promise.all([
        api('GET', '/v1/kpis/measures'), api('GET', `/v1/reports/agents${qs({ from, to })}`), api('GET', `/v1/schedules${qs({ from, to })}`)]);
      units = { ...Object.fromEntries(m.measures.map((x) => [x.name, x.unit])), ...HOST_UNITS };
      ({ measures } = report);
      fill(out,
        h('h2', {}, `Agents on ${day}`),
        reportTable('report-agents', 'report-agent', report.agents, measures, units),
        h('h2', {}, `Teams on ${day}`),
        reportTable('report-teams', 'report-team', report.teams, measures, units),
        h('h2', {}, `Schedules on ${day}`),
        scheduleTable(report.agents, schedules, from, to));
    } catch (e) {
      fill(out, h('p', { class: 'error', role: 'alert' }, `Could not build the report: ${e.message}`));
    }
  };
  const loadGoals = async () => {
    try {
      const { goals } = await api('GET', '/v1/goals');
      fill(goalsEl, goalsTable(goals, can(me, 'ManageFloor') ? remove : null),
        can(me, 'ManageFloor') ? goalForm(measures, units, save) : null);
    } catch (e) {
      fill(goalsEl, h('p', { class: 'error' }, `Could not load goals: ${e.message}`));
    }
  };
  async function save(id, body) {
    await api('PUT', `/v1/goals/${encodeURIComponent(id)}`, body);
    announce(`Goal ${id} saved.`, 'ok');
    await load();
    await loadGoals();
  }
  async function remove(g) {
    if (!(await confirmDialog({ title: `Remove goal ${g.id}?`, body: h('p', {}, 'The report stops showing its progress.'), confirm: 'Remove', danger: true, testid: 'goal-delete-dialog' }))) return;
    try {
      await api('DELETE', `/v1/goals/${encodeURIComponent(g.id)}`);
      announce(`Goal ${g.id} removed.`, 'ok');
    } catch (e) {
      announce(`Could not remove ${g.id}: ${e.message}`, 'error');
    }
    await load();
    await loadGoals();
  }
  await load();
  await loadGoals();
  return undefined;
}

function valueCell(prefix, r, m, unit) {
  const v = r.kpis[m] ?? null;
  return h('span', {
    'data-testid': `${prefix}-${r.id}-${m}`, 'data-value': v === null ? '' : String(v), title: v === null ? 'no data' : `exact: ${v}`,
  }, v === null ? '—' : fmtValue(v, unit));
}

function goalChips(prefix, r, units) {
  if (!r.goals.length) return h('span', { class: 'muted' }, 'none');
  return r.goals.map((p) => {
    const level = goalLevel(p);
    const [cls, word] = GOAL_WORD[level];
    const u = units[p.measure];
    return h('div', {},
      h('span', { class: `chip ${cls}`, 'data-testid': `goal-${prefix}-${r.id}-${p.goal}`, 'data-level': level }, word),
      ` ${label(p.measure)} ${p.direction === 'at_most' ? '≤' : '≥'} ${fmtValue(p.target, u)}`,
      h('span', { class: 'muted' }, p.value === null ? '' : ` (${fmtValue(p.value, u)})`));
  });
}

function teamName(r) {
  const members = r.name ? r.name.split(', ') : [];
  return [r.id, h('div', { class: 'muted', title: members.join(', ') }, members.length === 1 ? members[0] : `${members.length} agents`)];
}

function reportTable(testid, prefix, rows, measures, units) {
  return table({
    testid,
    columns: [
      { label: prefix === 'report-agent' ? 'Agent' : 'Team', cell: (r) => (prefix === 'report-agent' ? (r.name ? `${r.name} (${r.id})` : r.id) : teamName(r)) },
      ...measures.map((m) => ({ label: `${label(m)} (${units[m] ?? ''})`, num: true, cell: (r) => valueCell(prefix, r, m, units[m]) })),
      { label: 'Goals', cell: (r) => goalChips(prefix, r, units) },
    ],
    rows,
    rowTestid: (r) => `${prefix}-${r.id}`,
    empty: 'Nobody to report on.',
  });
}

/** The day's planned activities as a bar (SVG, minutes across), and in words. */
export function timeline(activities, from, to) {
  const span = to - from;
  const x = (t) => ((Math.min(Math.max(t, from), to) - from) / span) * 1440;
  const words = activities.map((a) => `${hhmm(a.start)}–${hhmm(a.end)} ${a.activity}`);
  return h('div', { class: 'timeline' },
    h('svg:svg', { viewBox: '0 0 1440 20', preserveAspectRatio: 'none', 'aria-hidden': 'true', class: 'timeline-bar' },
      [360, 720, 1080].map((m) => h('svg:line', { x1: m, x2: m, y1: 0, y2: 20, class: 'tick' })),
      activities.map((a) => h('svg:rect', { x: x(a.start), width: Math.max(1, x(a.end) - x(a.start)), y: 2, height: 16, class: `act act-${a.activity}` },
        h('svg:title', {}, `${hhmm(a.start)}–${hhmm(a.end)} ${a.activity}`)))),
    h('div', { class: 'hint' }, words.join(' · ') || 'nothing planned'));
}

function scheduleTable(agents, schedules, from, to) {
  const plans = new Map(schedules.map((s) => [s.agent_id, s.activities]));
  const rows = agents.filter((a) => plans.get(a.id)?.length);
  return h('div', {},
    h('ul', { class: 'legend', 'aria-label': 'Activities' }, ACTIVITIES.map((a) => h('li', {}, h('span', { class: `swatch act-${a}` }), a))),
    table({
      testid: 'report-schedules',
      columns: [
        { label: 'Agent', cell: (r) => (r.name ? `${r.name} (${r.id})` : r.id) },
        { label: 'Planned (00:00–24:00)', cell: (r) => timeline(plans.get(r.id), from, to) },
        { label: 'Scheduled so far', num: true, cell: (r) => `${(r.schedule.scheduled_ms / 3600e3).toFixed(1)} h` },
        { label: 'Adherence', num: true, cell: (r) => h('span', { 'data-testid': `schedule-adherence-${r.id}` }, fmtValue(r.schedule.adherence, 'ratio')) },
        { label: 'Conformance', num: true, cell: (r) => fmtValue(r.schedule.conformance, 'ratio') },
      ],
      rows,
      rowTestid: (r) => `schedule-${r.id}`,
      empty: 'Nobody has a schedule on this day (PUT /v1/agents/{id}/schedule).',
    }));
}

function goalsTable(goals, remove) {
  const who = (g) => {
    const s = scopeOf(g);
    return s.kind === 'all' ? 'everyone' : `${s.kind} ${s.id}`;
  };
  return table({
    testid: 'goals-table',
    columns: [
      { label: 'Goal', cell: (g) => g.id },
      { label: 'For', cell: who },
      { label: 'Measure', cell: (g) => label(g.measure) },
      { label: 'Target', num: true, cell: (g) => `${g.direction === 'at_most' ? '≤' : g.direction === 'at_least' ? '≥' : ''} ${g.target}` },
      remove ? { label: 'Actions', cell: (g) => h('button', { type: 'button', 'data-testid': `goal-delete-${g.id}`, onclick: () => remove(g), 'aria-label': `Remove goal ${g.id}` }, 'Remove') } : null,
    ].filter(Boolean),
    rows: goals,
    rowTestid: (g) => `goal-row-${g.id}`,
    empty: 'No goals.',
  });
}

function goalForm(measures, units, save) {
  const idIn = h('input', { type: 'text', size: 14, required: true, pattern: '[A-Za-z0-9._-]+', 'data-testid': 'goal-id' });
  const scopeIn = h('select', { 'data-testid': 'goal-scope' }, [['all', 'everyone'], ['agent', 'one agent'], ['team', 'one team']].map(([v, t]) => h('option', { value: v }, t)));
  const whoIn = h('input', { type: 'text', size: 14, 'data-testid': 'goal-who' });
  const measureIn = h('select', { 'data-testid': 'goal-measure' }, measures.map((m) => h('option', { value: m }, label(m))));
  const targetIn = h('input', { type: 'number', step: 'any', required: true, size: 8, 'data-testid': 'goal-target' });
  const dirIn = h('select', { 'data-testid': 'goal-direction' }, [['', 'default'], ['at_least', 'at least'], ['at_most', 'at most']].map(([v, t]) => h('option', { value: v }, t)));
  const err = h('p', { class: 'field-error', 'data-testid': 'goal-error', 'aria-live': 'assertive' });
  const targetField = field('Target', targetIn, '…');
  const unitHint = targetField.querySelector('.hint');
  const hint = () => {
    unitHint.textContent = units[measureIn.value] === 'ratio' ? 'a ratio: 0.9 is 90%' : `in ${units[measureIn.value] ?? 'the measure’s unit'}`;
  };
  measureIn.addEventListener('change', hint);
  hint();
  const form = h('form', { class: 'panel row', 'data-testid': 'goal-form', 'aria-label': 'Set a goal' },
    field('Goal id', idIn, 'an existing id replaces that goal'), field('Applies to', scopeIn), field('Agent or team', whoIn, 'id, for one agent or team'),
    field('Measure', measureIn), targetField,
    field('Direction', dirIn, 'default: at most for times and costs'),
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'goal-save' }, 'Save goal'), err);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const kind = scopeIn.value;
    if (kind !== 'all' && !whoIn.value.trim()) {
      err.textContent = `Name the ${kind}.`;
      whoIn.focus();
      return;
    }
    const body = { scope: kind === 'all' ? 'all' : { [kind]: whoIn.value.trim() }, measure: measureIn.value, target: Number(targetIn.value) };
    if (dirIn.value) body.direction = dirIn.value;
    err.textContent = '';
    try {
      await save(idIn.value.trim(), body);
    } catch (e) {
      err.textContent = e.message;
    }
  });
  return form;
}
