// Audit: the trail of decisions and admin actions, filtered by subject,
// plugin, actor, kind and time (GET /v1/audit, paged with `after`), and
// the hash chain's verification (GET /v1/audit/verify).

import { h, fill, field, table, fmtTime, toLocalInput, fromLocalInput } from './dom.js';
import { api, qs } from './api.js';

const FILTERS = ['subject', 'plugin', 'actor', 'kind'];
const LIMIT = 50;

export async function render(root, { title, params, navigate }) {
  const inputs = Object.fromEntries(FILTERS.map((f) => [f, h('input', { type: 'search', size: 14, value: params.get(f) || '', 'data-testid': `audit-${f}` })]));
  const fromIn = h('input', { type: 'datetime-local', 'data-testid': 'audit-from', value: params.get('from') ? toLocalInput(Number(params.get('from'))) : '' });
  const toIn = h('input', { type: 'datetime-local', 'data-testid': 'audit-to', value: params.get('to') ? toLocalInput(Number(params.get('to'))) : '' });
  const form = h('form', { class: 'row panel', role: 'search', 'data-testid': 'audit-form' },
    field('Subject', inputs.subject, 'contact, plugin or agent id'), field('Plugin', inputs.plugin, 'plugin id'),
    field('Actor', inputs.actor, 'e.g. token:1a2b3c4d, engine'), field('Kind', inputs.kind, 'e.g. plugin.activate'),
    field('From', fromIn), field('To', toIn),
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'audit-search' }, 'Search'));
  const current = () => ({
    ...Object.fromEntries(FILTERS.map((f) => [f, inputs[f].value.trim()])),
    from: fromLocalInput(fromIn.value) ?? '', to: fromLocalInput(toIn.value) ?? '',
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    navigate('audit', current());
  });
  const verifyEl = h('div', { 'data-testid': 'audit-verify', role: 'status' }, 'Verifying the chain…');
  const listEl = h('div', {});
  fill(root, h('div', { class: 'title-row' }, h('h1', { tabindex: '-1' }, title), verifyEl), form, listEl);

  const verify = async () => {
    fill(verifyEl, 'Verifying the chain…');
    try {
      const v = await api('GET', '/v1/audit/verify');
      verifyEl.dataset.state = v.broken ? 'broken' : 'intact';
      fill(verifyEl, v.broken
        ? h('span', { class: 'chip bad' }, `Chain BROKEN at record ${v.broken.seq}: ${v.broken.reason}`)
        : h('span', { class: 'chip ok' }, `Chain intact: ${v.records} records verified`),
      ' ', h('button', { type: 'button', class: 'link', onclick: verify, 'data-testid': 'audit-reverify' }, 'verify again'));
      return v;
    } catch (e) {
      fill(verifyEl, h('span', { class: 'chip bad' }, `Cannot verify: ${e.message}`));
      return null;
    }
  };

  const filters = Object.fromEntries([...FILTERS, 'from', 'to'].map((f) => [f, params.get(f) || undefined]));
  const filtered = Object.values(filters).some(Boolean);
  const after = params.get('after') ? Number(params.get('after')) : undefined;
  const [v, page] = await Promise.all([verify(), api('GET', `/v1/audit${qs({ ...filters, after, limit: LIMIT })}`).catch((e) => e)]);
  if (page instanceof Error) {
    fill(listEl, h('p', { class: 'error', role: 'alert' }, `Could not search: ${page.message}`));
    return undefined;
  }
  const go = (a) => navigate('audit', { ...Object.fromEntries(Object.entries(filters).filter(([, x]) => x)), after: a });
  const pager = h('div', { class: 'row', 'data-testid': 'audit-pager' },
    h('button', { type: 'button', disabled: !after, onclick: () => go(''), 'data-testid': 'audit-first' }, 'First page'),
    h('button', { type: 'button', disabled: page.next_after == null, onclick: () => go(page.next_after), 'data-testid': 'audit-next' }, 'Next page'),
    // Sequence numbers count records from 1, so without filters the last page starts at records - limit.
    !filtered && v ? h('button', { type: 'button', onclick: () => go(Math.max(0, v.records - LIMIT)), 'data-testid': 'audit-latest' }, 'Latest') : null,
    h('span', { class: 'muted' }, page.records.length ? `records ${page.records[0].seq}–${page.records.at(-1).seq}` : ''));
  fill(listEl, table({
    testid: 'audit-table',
    columns: [
      { label: '#', num: true, cell: (r) => r.seq },
      { label: 'At', cell: (r) => fmtTime(r.entry.at) },
      { label: 'Kind', cell: (r) => r.entry.kind },
      { label: 'Actor', cell: (r) => r.entry.actor },
      { label: 'Subject', cell: (r) => r.entry.subject },
      { label: 'Summary', cell: (r) => summary(r.entry) },
      { label: 'Record', cell: (r) => h('details', {}, h('summary', {}, 'data'), h('pre', { class: 'json' }, JSON.stringify({ ...r, entry: { ...r.entry } }, null, 2))) },
    ],
    rows: page.records,
    rowTestid: (r) => `audit-row-${r.seq}`,
    empty: 'No records match.',
  }), pager);
  return undefined;
}

/** One line about what a record says, for the common kinds. */
function summary(e) {
  const d = e.data || {};
  if (d.decided_by?.plugin) return `${d.decided_by.plugin}@${d.decided_by.version}${d.duration_us != null ? `, ${d.duration_us} µs` : ''}`;
  if (d.current?.plugin) return `${d.current.plugin}@${d.current.version} in ${d.slot ?? e.subject}`;
  if (d.comment !== undefined && d.draft) return `${d.draft} by ${d.agent}: ${d.comment ?? ''}`;
  if (d.role) return `role ${d.role}${d.label ? ` (${d.label})` : ''}`;
  if (d.id && d.version) return `${d.id}@${d.version}`;
  return '';
}
