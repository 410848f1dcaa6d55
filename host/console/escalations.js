// Escalations and complaints: open contacts that a rule marked as a
// complaint or a crisis (crises on top), each with its regulatory clocks
// (the contact's `deadlines`) counting down, and the latest notifications
// that escalation rules sent. Re-read when the stream reports a change to
// a complaint; the clocks tick locally.

import { h, fill, table, fmtTime, throttle } from './dom.js';
import { allPages, can, stream } from './api.js';
import { clockState } from './contact.js';

export { clockState };

const OPEN = ['new', 'queued', 'offered', 'assigned', 'wrap_up', 'transferred', 'escalated'];
/** How far back to look for open complaints (regulators allow 30 days). */
const LOOKBACK_MS = 60 * 86400e3;

export const isCrisis = (c) => c.complaint?.urgency === 'critical' || (c.tags || []).includes('crisis') || c.state === 'escalated';

export function render(root, { me, title }) {
  const link = (id) => (can(me, 'ReadAudit') ? h('a', { href: `#/audit?subject=${encodeURIComponent(id)}` }, id) : id);
  const crisisEl = h('div', { 'data-testid': 'crises' });
  const listEl = h('div', { 'data-testid': 'complaints' });
  const notesEl = h('div', { 'data-testid': 'notifications' });
  const errorEl = h('p', { class: 'error', role: 'alert' });
  fill(root, h('h1', { tabindex: '-1' }, title), errorEl,
    h('h2', {}, 'Crisis escalations'), crisisEl,
    h('h2', {}, 'Open complaints'), listEl,
    h('h2', {}, 'Latest notifications to supervisors, teams and agents'), notesEl);

  async function load() {
    const from = Date.now() - LOOKBACK_MS;
    try {
      const [lists, notes] = await Promise.all([
        Promise.all(OPEN.map((state) => allPages('/v1/contacts', { state, from, limit: 1000 }, 'contacts', { max: 5 }))),
        allPages('/v1/notifications', { limit: 1000 }, 'notifications', { max: 20 }),
      ]);
      const open = lists.flatMap((l) => l.items).filter((c) => c.complaint || isCrisis(c) || (c.deadlines || []).some((d) => !d.stopped_at));
      open.sort((a, b) => isCrisis(b) - isCrisis(a) || nextDue(a) - nextDue(b));
      renderList(open);
      renderNotes(notes.items.slice(-30).reverse());
      errorEl.textContent = '';
    } catch (e) {
      errorEl.textContent = `Could not load complaints: ${e.message}`;
    }
  }

  function renderList(open) {
    fill(crisisEl, contactTable(open.filter(isCrisis), 'crises-table', 'No crisis is open.'));
    fill(listEl, contactTable(open.filter((c) => !isCrisis(c)), 'complaints-table', 'No other open complaints.'));
    tickClocks();
  }

  function contactTable(rows, testid, empty) {
    return table({
      testid,
      caption: `${rows.length} open`,
      columns: [
        { label: 'Contact', cell: (c) => h('span', { class: 'nowrap' }, isCrisis(c) ? h('span', { class: 'chip bad', 'data-testid': `crisis-${c.id}` }, 'CRISIS') : null, ' ', link(c.id)) },
        { label: 'Complaint', cell: (c) => (c.complaint ? `${c.complaint.category}, ${c.complaint.urgency}` : '—') },
        { label: 'Channel', cell: (c) => c.channel },
        { label: 'Customer', cell: (c) => `${c.customer_id} (${c.customer_tier})` },
        { label: 'State', cell: (c) => c.state + (c.agent_id ? `, ${c.agent_id}` : '') },
        { label: 'Text', cell: (c) => h('span', { title: c.text }, c.text.length > 80 ? `${c.text.slice(0, 80)}…` : c.text) },
        { label: 'Clocks', cell: (c) => (c.deadlines || []).map((d) => clockEl(c, d)) },
      ],
      rows,
      rowTestid: (c) => `complaint-${c.id}`,
      empty,
    });
  }

  function clockEl(c, d) {
    return h('div', {},
      h('span', { class: 'chip clock', 'data-testid': `clock-${c.id}-${d.name}`, 'data-due': d.due_at, 'data-deadline': JSON.stringify(d) }),
      h('span', { class: 'muted' }, ` ${d.name}, due ${fmtTime(d.due_at)}`));
  }

  function tickClocks() {
    const now = Date.now();
    for (const el of root.querySelectorAll('[data-deadline]')) {
      const s = clockState(JSON.parse(el.dataset.deadline), now);
      el.className = `chip clock ${s.level}`;
      el.dataset.level = s.level;
      el.textContent = s.text;
    }
  }

  function renderNotes(notes) {
    fill(notesEl, table({
      testid: 'notifications-table',
      columns: [
        { label: 'At', cell: (n) => fmtTime(n.at) },
        { label: 'Urgency', cell: (n) => h('span', { class: `chip ${n.urgency === 'critical' ? 'bad' : n.urgency === 'high' ? 'warn' : 'none'}` }, n.urgency) },
        { label: 'For', cell: (n) => n.target },
        { label: 'Contact', cell: (n) => link(n.contact_id) },
        { label: 'Message', cell: (n) => n.message },
        { label: 'Rule', cell: (n) => n.by },
      ],
      rows: notes,
      empty: 'No notifications.',
    }));
  }

  const reload = throttle(load, 2000);
  const stop = stream({
    onEvent: (name, data) => {
      if (name === 'lagged' || (name === 'contact' && (data.complaint || (data.tags || []).includes('crisis') || root.querySelector(`[data-testid="complaint-${CSS.escape(data.id)}"]`)))) reload();
    },
  });
  const tick = setInterval(tickClocks, 1000);
  load();
  return () => {
    stop();
    clearInterval(tick);
  };
}

function nextDue(c) {
  const due = (c.deadlines || []).filter((d) => !d.stopped_at).map((d) => d.due_at);
  return due.length ? Math.min(...due) : Infinity;
}
