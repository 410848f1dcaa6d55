// What-if (POST /v1/whatif): run an uploaded version that is not active
// over the recorded inputs of the slot it would replace, in a window, and
// show what would change: routing decisions and queue volumes, escalation
// actions, compliance verdicts, KPI samples, with examples (both answers
// side by side). The job runs on the server; this view follows its
// progress (GET /v1/whatif/{id}) and renders the report. Admins and
// operators only: the candidate runs on every core.

import { h, fill, field, table, fmtTime, toLocalInput, fromLocalInput, announce } from './dom.js';
import { api } from './api.js';

const POLL_MS = 400;
const pct = (n, d) => (d ? `${((100 * n) / d).toFixed(1)}%` : '—');
const str = (v) => (typeof v === 'string' ? v : JSON.stringify(v));
const brief = (d) => `${d.queue} · p${d.priority}${d.tags?.length ? ` · ${d.tags.join(', ')}` : ''}`;
const skills = (d) => (d.required_skills || []).map((s) => `${s.skill}≥${s.proficiency}`).join(', ') || '—';

export async function render(root, { title, params, navigate }) {
  const versionSel = h('select', { 'data-testid': 'whatif-candidate', required: true });
  const slotIn = h('input', { 'data-testid': 'whatif-slot', placeholder: 'routing', value: params.get('slot') || '' });
  const configIn = h('textarea', { 'data-testid': 'whatif-config', rows: 3, placeholder: '{} (empty: the manifest\'s default)' });
  const fromIn = h('input', { type: 'datetime-local', 'data-testid': 'whatif-from' });
  const toIn = h('input', { type: 'datetime-local', 'data-testid': 'whatif-to' });
  const errorEl = h('p', { class: 'error', role: 'alert', 'data-testid': 'whatif-error' });
  const progressEl = h('div', { 'data-testid': 'whatif-progress', 'aria-live': 'polite' });
  const out = h('div', { 'data-testid': 'whatif-report' });
  const form = h('form', { class: 'stack', 'data-testid': 'whatif-form' },
    field('Candidate (an uploaded version)', versionSel),
    field('Slot it would replace', slotIn, 'routing for a routing policy; the slot name for the other kinds'),
    field('Config (JSON)', configIn),
    h('div', { class: 'row' }, field('From', fromIn), field('To', toIn)),
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'whatif-run' }, 'Run what-if'));
  fill(root, h('h1', { tabindex: '-1' }, title),
    h('p', { class: 'muted' }, 'Runs the candidate over the inputs the live version saw; nothing is applied or recorded.'),
    form, errorEl, progressEl, out);

  let stopped = false;
  try {
    const { versions } = await api('GET', '/v1/plugins');
    fill(versionSel, versions.map((v) => h('option', { value: `${v.id}@${v.version}` }, `${v.id}@${v.version} (${v.kind})`)));
    if (params.get('candidate')) versionSel.value = params.get('candidate');
  } catch (e) {
    errorEl.textContent = `Could not list the uploaded versions: ${e.message}`;
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errorEl.textContent = '';
    const [plugin, version] = versionSel.value.split('@');
    let config;
    if (configIn.value.trim()) {
      try {
        config = JSON.parse(configIn.value);
      } catch (e) {
        errorEl.textContent = `The config is not JSON: ${e.message}`;
        configIn.focus();
        return;
      }
    }
    const body = { candidate: { plugin, version, config } };
    if (slotIn.value.trim()) body.slot = slotIn.value.trim();
    if (fromIn.value) body.from = fromLocalInput(fromIn.value);
    if (toIn.value) body.to = fromLocalInput(toIn.value);
    try {
      const job = await api('POST', '/v1/whatif', body);
      navigate('whatif', { job: job.id });
    } catch (e) {
      errorEl.textContent = e.message;
    }
  });

  const jobId = params.get('job');
  if (jobId) follow(jobId);

  async function follow(id) {
    while (!stopped) {
      let job;
      try {
        job = await api('GET', `/v1/whatif/${encodeURIComponent(id)}`);
      } catch (e) {
        errorEl.textContent = `Could not read what-if ${id}: ${e.message}`;
        return;
      }
      const c = job.request.candidate;
      versionSel.value = `${c.plugin}@${c.version}`;
      slotIn.value = job.request.slot || '';
      configIn.value = c.config ? JSON.stringify(c.config) : '';
      if (job.request.from) fromIn.value = toLocalInput(job.request.from);
      if (job.request.to) toIn.value = toLocalInput(job.request.to);
      fill(progressEl, h('label', {}, `What-if ${job.id}: ${job.state}, ${job.done} of ${job.total} records `,
        h('progress', { max: job.total || 1, value: job.done, 'data-testid': 'whatif-bar' })));
      progressEl.setAttribute('data-state', job.state);
      if (job.state === 'done') {
        fill(out, report(job.report));
        announce(`What-if ${job.id} done: ${job.report.changed} of ${job.report.compared} decisions would change.`, 'ok');
        return;
      }
      if (job.state === 'failed') {
        errorEl.textContent = `What-if ${job.id} failed: ${job.error}`;
        return;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  return () => { stopped = true; };
}

function report(r) {
  const failed = Object.entries(r.candidate_failed || {}).map(([k, n]) => `${n} ${k}`).join(', ');
  return [
    h('h2', {}, `${r.candidate} in slot ${r.slot}`),
    h('p', { 'data-testid': 'whatif-summary', 'data-changed': r.changed, 'data-compared': r.compared },
      `${r.decisions} recorded decisions, ${r.compared} compared: ${r.changed} would change (${pct(r.changed, r.compared)}).`,
      failed ? ` The candidate failed on ${failed}.` : '',
      r.recorded_failed ? ` ${r.recorded_failed} recorded calls had failed.` : '',
      ` ${Math.round(r.per_sec)} decisions/s.`),
    r.routing ? routing(r.routing) : null,
    r.escalation ? escalation(r.escalation) : null,
    r.compliance ? compliance(r.compliance) : null,
    r.kpi ? kpi(r.kpi) : null,
  ];
}

function routing(s) {
  return [
    h('p', {}, `Changed: queue ${s.queue_changed}, priority ${s.priority_changed}, required skills ${s.skills_changed}, tags ${s.tags_changed}.`),
    table({
      caption: 'Contacts per queue', testid: 'whatif-queues', rowTestid: (q) => `whatif-queue-${q.queue}`,
      columns: [
        { label: 'Queue', cell: (q) => q.queue },
        { label: 'Recorded', num: true, cell: (q) => String(q.recorded) },
        { label: 'Candidate', num: true, cell: (q) => String(q.candidate) },
        { label: 'Change', num: true, cell: (q) => (q.candidate - q.recorded > 0 ? '+' : '') + (q.candidate - q.recorded) },
      ],
      rows: s.queues,
    }),
    table({
      caption: 'Moves between queues', testid: 'whatif-moves',
      columns: [
        { label: 'From', cell: (m) => m.from },
        { label: 'To', cell: (m) => m.to },
        { label: 'Contacts', num: true, cell: (m) => String(m.contacts) },
      ],
      rows: s.moves, empty: 'No contact changes queue.',
    }),
    table({
      caption: 'Examples', testid: 'whatif-examples', rowTestid: (e) => `whatif-example-${e.seq}`,
      columns: [
        { label: 'Contact', cell: (e) => h('a', { href: `#/contact?id=${encodeURIComponent(e.contact)}` }, e.contact) },
        { label: 'At', cell: (e) => fmtTime(e.at) },
        { label: 'Recorded', cell: (e) => h('div', {}, h('strong', {}, brief(e.recorded)), h('div', { class: 'muted' }, `skills ${skills(e.recorded)}`), h('div', {}, e.recorded.reason)) },
        { label: 'Candidate', cell: (e) => h('div', {}, h('strong', {}, brief(e.candidate)), h('div', { class: 'muted' }, `skills ${skills(e.candidate)}`), h('div', {}, e.candidate.reason)) },
      ],
      rows: s.examples, empty: 'No decision would change.',
    }),
  ];
}

function escalation(s) {
  return [
    table({
      caption: 'Actions added and removed', testid: 'whatif-actions', rowTestid: (a) => `whatif-action-${a.action}`,
      columns: [
        { label: 'Action', cell: (a) => a.action },
        { label: 'Added', num: true, cell: (a) => String(a.added) },
        { label: 'Removed', num: true, cell: (a) => String(a.removed) },
      ],
      rows: s.actions, empty: 'No action would change.',
    }),
    table({
      caption: 'Examples', testid: 'whatif-examples',
      columns: [
        { label: 'Contact', cell: (e) => h('a', { href: `#/contact?id=${encodeURIComponent(e.contact)}` }, e.contact) },
        { label: 'Added', cell: (e) => e.added.map(str).join('; ') || '—' },
        { label: 'Removed', cell: (e) => e.removed.map(str).join('; ') || '—' },
        { label: 'Reasons', cell: (e) => h('div', {}, h('div', {}, `recorded: ${e.recorded_reason}`), h('div', {}, `candidate: ${e.candidate_reason}`)) },
      ],
      rows: s.examples, empty: 'No decision would change.',
    }),
  ];
}

function compliance(s) {
  const findings = (r) => (r.findings || []).map((f) => f.message || f.rule || str(f)).join('; ') || 'no findings';
  return [
    table({
      caption: 'Verdict changes', testid: 'whatif-verdicts',
      columns: [
        { label: 'Recorded', cell: (v) => v.from },
        { label: 'Candidate', cell: (v) => v.to },
        { label: 'Drafts', num: true, cell: (v) => String(v.drafts) },
      ],
      rows: s.verdicts, empty: 'No verdict would change.',
    }),
    table({
      caption: 'Examples', testid: 'whatif-examples',
      columns: [
        { label: 'Draft', cell: (e) => e.text },
        { label: 'Recorded', cell: (e) => `${e.recorded.verdict}: ${findings(e.recorded)}` },
        { label: 'Candidate', cell: (e) => `${e.candidate.verdict}: ${findings(e.candidate)}` },
      ],
      rows: s.examples, empty: 'No verdict would change.',
    }),
  ];
}

function kpi(s) {
  const val = (t) => (t.denominator > 0 ? (t.value / t.denominator).toFixed(3) : t.value.toFixed(2));
  return table({
    caption: 'Measures, recorded and recomputed', testid: 'whatif-measures', rowTestid: (m) => `whatif-measure-${m.measure}`,
    columns: [
      { label: 'Measure', cell: (m) => m.measure },
      { label: 'Samples (recorded)', num: true, cell: (m) => String(m.recorded.samples) },
      { label: 'Samples (candidate)', num: true, cell: (m) => String(m.candidate.samples) },
      { label: 'Value (recorded)', num: true, cell: (m) => val(m.recorded) },
      { label: 'Value (candidate)', num: true, cell: (m) => val(m.candidate) },
    ],
    rows: s.measures,
  });
}
