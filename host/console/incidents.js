// Incidents (outages, security issues): those in force first, then the
// rest, newest first (GET /v1/incidents), with how many contacts the
// routing rules tagged `incident:<id>`. Admins and operators declare one
// (title, keywords, products, the approved customer message) and close
// one after a confirmation.

import { h, fill, field, table, fmtTime, announce, confirmDialog, fromLocalInput } from './dom.js';
import { api, allPages, can } from './api.js';

const OPEN = new Set(['new', 'queued', 'offered', 'assigned', 'wrap_up', 'transferred', 'escalated']);
const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);

/** active / scheduled / ended at `now`. */
export function incidentState(i, now) {
  if (i.started_at > now) return 'scheduled';
  return i.ended_at == null || now < i.ended_at ? 'active' : 'ended';
}
const STATE_CHIP = { active: 'bad', scheduled: 'warn', ended: 'none' };

export async function render(root, { me, title, params }) {
  const manage = can(me, 'ManageFloor');
  const countable = can(me, 'ReadContacts');
  const listEl = h('div', { 'data-testid': 'incidents' }, h('p', { class: 'muted' }, 'Loading…'));
  fill(root, h('h1', { tabindex: '-1' }, title),
    h('p', { class: 'muted' }, 'While an incident is in force, routing tags the contacts that mention its keywords or products ',
      h('code', {}, 'incident:<id>'), ', sends them to the incident queue and answers them with the approved message.'),
    manage ? declareForm(load) : null,
    h('h2', {}, 'Incidents'), listEl);

  async function counts(incidents) {
    // Per incident, the contacts carrying its tag (GET /v1/contacts?tag=).
    if (!countable || !incidents.length) return null;
    const out = new Map();
    let complete = true;
    await Promise.all(incidents.map(async (i) => {
      const page = await allPages('/v1/contacts', { tag: `incident:${i.id}`, limit: 1000 }, 'contacts', { max: 5 });
      complete &&= page.complete;
      out.set(i.id, {
        all: page.items.length,
        open: page.items.filter((c) => OPEN.has(c.state)).length,
      });
    }));
    return { from: -Infinity, out, complete };
  }

  async function load() {
    try {
      const { incidents } = await api('GET', '/v1/incidents');
      const now = Date.now();
      const rank = { active: 0, scheduled: 1, ended: 2 };
      incidents.sort((a, b) => rank[incidentState(a, now)] - rank[incidentState(b, now)] || b.started_at - a.started_at);
      const n = await counts(incidents).catch(() => null);
      const countCell = (i) => {
        if (!n) return '—';
        if (i.started_at < n.from) return 'not counted';
        const c = n.out.get(i.id) ?? { all: 0, open: 0 };
        return h('span', { 'data-testid': `incident-count-${i.id}`, 'data-count': c.all }, `${n.complete ? '' : '≥ '}${c.all} (${c.open} open)`);
      };
      fill(listEl, table({
        testid: 'incidents-table',
        columns: [
          { label: 'Incident', cell: (i) => [h('strong', {}, i.title), h('div', { class: 'muted' }, i.id)] },
          {
            label: 'State',
            cell: (i) => {
              const s = incidentState(i, now);
              return h('span', { class: `chip ${STATE_CHIP[s]}`, 'data-testid': `incident-state-${i.id}`, 'data-state': s }, s);
            },
          },
          { label: 'From', cell: (i) => fmtTime(i.started_at) },
          { label: 'Until', cell: (i) => (i.ended_at ? `${fmtTime(i.ended_at)}${i.closed_by ? ` (closed by ${i.closed_by})` : ' (planned)'}` : 'until closed') },
          { label: 'Keywords', cell: (i) => i.keywords.join(', ') || '—' },
          { label: 'Products', cell: (i) => i.products.join(', ') || '—' },
          { label: 'Message to customers', cell: (i) => i.message ?? h('span', { class: 'muted' }, 'none') },
          { label: 'Contacts tagged', num: true, cell: countCell },
          { label: 'Declared by', cell: (i) => i.declared_by },
          manage ? { label: 'Actions', cell: (i) => (i.closed_by ? '' : h('button', { type: 'button', class: 'danger', 'data-testid': `incident-close-${i.id}`, onclick: () => close(i) }, 'Close')) } : null,
        ].filter(Boolean),
        rows: incidents,
        rowTestid: (i) => `incident-${i.id}`,
        empty: 'No incident has been declared.',
      }));
      const wanted = params.get('id') && listEl.querySelector(`[data-testid="incident-${CSS.escape(params.get('id'))}"]`);
      if (wanted) wanted.classList.add('flash');
    } catch (e) {
      fill(listEl, h('p', { class: 'error', role: 'alert' }, `Could not load incidents: ${e.message}`));
    }
  }

  async function close(i) {
    const ok = await confirmDialog({
      title: `Close incident “${i.title}”?`,
      body: h('p', {}, 'Contacts from now on are routed as before and no longer get the incident message. This cannot be undone: declare a new incident if it comes back.'),
      confirm: 'Close incident', danger: true, testid: 'incident-close-dialog',
    });
    if (!ok) return;
    try {
      await api('POST', `/v1/incidents/${encodeURIComponent(i.id)}/close`, {});
      announce(`Incident ${i.id} closed.`, 'ok');
    } catch (e) {
      announce(`Could not close ${i.id}: ${e.message}`, 'error');
    }
    await load();
  }

  await load();
  return undefined;
}

function declareForm(reload) {
  const titleIn = h('input', { type: 'text', size: 40, required: true, 'data-testid': 'incident-title' });
  const keywordsIn = h('input', { type: 'text', size: 30, 'data-testid': 'incident-keywords' });
  const productsIn = h('input', { type: 'text', size: 30, 'data-testid': 'incident-products' });
  const startIn = h('input', { type: 'datetime-local', 'data-testid': 'incident-start' });
  const endIn = h('input', { type: 'datetime-local', 'data-testid': 'incident-end' });
  const messageIn = h('textarea', { rows: 2, 'data-testid': 'incident-message' });
  const err = h('p', { class: 'field-error', 'data-testid': 'incident-error', 'aria-live': 'assertive' });
  const form = h('form', { class: 'panel', 'data-testid': 'incident-form', 'aria-labelledby': 'incident-form-title' },
    h('h2', { id: 'incident-form-title' }, 'Declare an incident'),
    h('div', { class: 'row' },
      field('Title', titleIn, 'e.g. Card payments failing'),
      field('Keywords', keywordsIn, 'comma separated, e.g. payment failed, card declined'),
      field('Products', productsIn, 'comma separated topics, e.g. cards')),
    h('div', { class: 'row' },
      field('Starts', startIn, 'empty: now'),
      field('Planned end', endIn, 'empty: until closed')),
    field('Approved message to customers (optional)', messageIn, 'Sent back to matching contacts at intake.'),
    err,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'incident-declare' }, 'Declare incident')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { title: titleIn.value.trim(), keywords: list(keywordsIn.value), products: list(productsIn.value) };
    if (!body.keywords.length && !body.products.length) {
      err.textContent = 'Give keywords or products, so the rules can tell which contacts are about the incident.';
      keywordsIn.setAttribute('aria-invalid', 'true');
      keywordsIn.focus();
      return;
    }
    keywordsIn.removeAttribute('aria-invalid');
    if (startIn.value) body.started_at = fromLocalInput(startIn.value);
    if (endIn.value) body.ends_at = fromLocalInput(endIn.value);
    if (messageIn.value.trim()) body.message = messageIn.value.trim();
    err.textContent = '';
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const i = await api('POST', '/v1/incidents', body);
      announce(`Incident ${i.id} declared: ${i.title}.`, 'ok');
      form.reset();
      await reload();
    } catch (e) {
      err.textContent = e.message;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
