// Live floor: queues (waiting, oldest wait, service level today against the
// queue's target), agents by status and load, and the contacts waiting,
// kept current by the /v1/stream Server-Sent Events (no polling): `queues`
// snapshots every second, `contact` changes as they happen. Agents are
// re-read (at most once a second) when a contact change or a change in
// available agents says their load or status moved.

import { h, fill, table, fmtDuration, throttle } from './dom.js';
import { api, allPages, can, stream } from './api.js';

const WAITING = new Set(['new', 'queued', 'offered', 'transferred', 'escalated']);
const STATUSES = ['available', 'busy', 'wrap_up', 'break', 'offline'];

/** ok / warn / bad / none for a service level against its target share. */
export function slLevel(value, target) {
  if (value === null || value === undefined || !target) return 'none';
  if (value >= target) return 'ok';
  return value >= target - 0.1 ? 'warn' : 'bad';
}
const SL_WORD = { ok: 'on target', warn: 'at risk', bad: 'below target', none: 'no data' };

export function render(root, { me, title }) {
  // Viewers may not list contacts: they see those the stream reports from now on.
  const readContacts = can(me, 'ReadContacts');
  const none = { items: [] };
  const queues = new Map(); // name -> queue config
  const stats = new Map(); // name -> latest stats
  const waiting = new Map(); // contact id -> {id, queue, channel, priority, state, tags, since}
  const fresh = new Set();
  let agents = [];
  let availableSum = null;

  const liveEl = h('span', { class: 'chip none live', 'data-testid': 'floor-live' }, 'connecting…');
  const queuesEl = h('div', {});
  const agentsEl = h('div', {});
  const waitingEl = h('div', {});
  const errorEl = h('p', { class: 'error', role: 'alert', 'data-testid': 'floor-error' });
  fill(root, errorEl,
    h('div', { class: 'title-row' }, h('h1', { tabindex: '-1' }, title), liveEl),
    h('div', { class: 'grid2' },
      h('div', {}, h('h2', {}, 'Queues'), queuesEl),
      h('div', {}, h('h2', {}, 'Agents'), agentsEl)),
    h('h2', {}, 'Waiting contacts'), waitingEl);

  function renderQueues() {
    const names = [...new Set([...queues.keys(), ...stats.keys()])].sort();
    fill(queuesEl, table({
      testid: 'floor-queues',
      columns: [
        { label: 'Queue', cell: (n) => n },
        { label: 'Waiting', num: true, cell: (n) => h('span', { 'data-testid': `queue-waiting-${n}` }, stats.get(n)?.waiting ?? '…') },
        { label: 'Oldest wait', num: true, cell: (n) => (stats.get(n) ? fmtDuration(stats.get(n).oldest_wait_secs ?? 0) : '…') },
        { label: 'Service level today', cell: (n) => slCell(n) },
        { label: 'Agents free', num: true, cell: (n) => stats.get(n)?.available_agents ?? '…' },
      ],
      rows: names,
      rowTestid: (n) => `queue-row-${n}`,
      empty: 'No queues yet: an operator creates them (PUT /v1/queues/{name}).',
    }));
  }

  function slCell(n) {
    const s = stats.get(n);
    const target = (s?.queue ?? queues.get(n))?.service_level;
    const value = s?.service_level_today ?? null;
    const level = slLevel(value, target?.share);
    const text = value === null ? '—' : `${(value * 100).toFixed(1)}%`;
    const goal = target ? ` (target ${Math.round(target.share * 100)}% in ${target.within_secs}s)` : '';
    return h('span', {},
      h('span', { class: `chip ${level}`, 'data-testid': `queue-sl-${n}`, 'data-level': level }, `${text} ${SL_WORD[level]}`),
      h('span', { class: 'muted' }, goal));
  }

  function renderAgents() {
    const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    for (const a of agents) counts[a.status] = (counts[a.status] ?? 0) + 1;
    const order = (a) => STATUSES.indexOf(a.status);
    const sorted = [...agents].sort((a, b) => order(a) - order(b) || a.id.localeCompare(b.id));
    fill(agentsEl,
      h('p', { 'data-testid': 'agents-summary' },
        Object.entries(counts).map(([s, n]) => h('span', { class: `chip ${s === 'available' ? 'ok' : s === 'offline' ? 'none' : 'warn'}`, 'data-testid': `agents-count-${s}` }, `${s.replace('_', ' ')}: ${n}`)).flatMap((c) => [c, ' '])),
      table({
        testid: 'floor-agents',
        columns: [
          { label: 'Agent', cell: (a) => (a.name ? `${a.name} (${a.id})` : a.id) },
          { label: 'Status', cell: (a) => a.status.replace('_', ' ') },
          { label: 'Load', cell: (a) => loadText(a) },
          { label: 'Teams', cell: (a) => (a.teams || []).join(', ') },
        ],
        rows: sorted,
        rowTestid: (a) => `agent-row-${a.id}`,
        empty: 'No agents yet.',
      }));
  }

  function renderWaiting() {
    const rows = [...waiting.values()].sort((a, b) => b.priority - a.priority || a.since - b.since);
    fill(waitingEl, table({
      testid: 'floor-waiting',
      caption: `${rows.length} contact${rows.length === 1 ? '' : 's'} waiting or offered${readContacts ? '' : ' (since this page opened: this role may not list contacts)'}`,
      columns: [
        { label: 'Contact', cell: (c) => (readContacts ? h('a', { href: `#/contact?id=${encodeURIComponent(c.id)}` }, c.id) : c.id) },
        { label: 'Queue', cell: (c) => c.queue ?? '—' },
        { label: 'Channel', cell: (c) => c.channel },
        { label: 'Priority', num: true, cell: (c) => c.priority },
        { label: 'State', cell: (c) => c.state + (c.agent_id ? ` to ${c.agent_id}` : '') },
        { label: 'Waiting', num: true, cell: (c) => h('span', { class: 'clock', 'data-since': c.since }, fmtDuration((Date.now() - c.since) / 1000)) },
        { label: 'Tags', cell: (c) => (c.tags || []).map((t) => h('span', { class: `chip ${t === 'crisis' ? 'bad' : t === 'complaint' ? 'warn' : 'none'}` }, t)).flatMap((x) => [x, ' ']) },
      ],
      rows,
      rowTestid: (c) => `waiting-${c.id}`,
      empty: 'Nobody is waiting.',
    }));
    for (const id of fresh) waitingEl.querySelector(`[data-testid="waiting-${CSS.escape(id)}"]`)?.classList.add('flash');
    fresh.clear();
  }

  const refreshAgents = throttle(async () => {
    try {
      agents = (await api('GET', '/v1/agents')).agents;
      renderAgents();
    } catch {
      /* the next change tries again */
    }
  }, 1000);

  // Contact changes that arrive while the lists are being read are applied
  // after them, so none is lost between the read and the stream.
  let loading = null;
  let pending = [];
  function loadAll() {
    if (loading) return loading;
    pending = [];
    loading = (async () => {
      const [q, a, queued, offered] = await Promise.all([
        api('GET', '/v1/queues'),
        api('GET', '/v1/agents'),
        readContacts ? allPages('/v1/contacts', { state: 'queued', limit: 1000 }, 'contacts', { max: 5 }) : none,
        readContacts ? allPages('/v1/contacts', { state: 'offered', limit: 1000 }, 'contacts', { max: 5 }) : none,
      ]);
      queues.clear();
      for (const x of q.queues) queues.set(x.name, x);
      agents = a.agents;
      if (readContacts) waiting.clear();
      for (const c of [...queued.items, ...offered.items]) {
        waiting.set(c.id, {
          id: c.id, queue: c.requirements?.queue ?? null, channel: c.channel, priority: c.requirements?.priority ?? 0,
          state: c.state, tags: c.tags, agent_id: c.agent_id, since: c.queued_at ?? c.created_at,
        });
      }
    })()
      .catch((e) => {
        errorEl.textContent = `Could not load the floor: ${e.message}`;
      })
      .finally(() => {
        loading = null;
        for (const ev of pending) applyContact(ev);
        pending = [];
        renderQueues();
        renderAgents();
        renderWaiting();
      });
    return loading;
  }

  function applyContact(data) {
    const before = waiting.get(data.id);
    if (WAITING.has(data.state)) {
      waiting.set(data.id, {
        id: data.id, queue: data.queue, channel: data.channel, priority: data.priority, state: data.state,
        tags: data.tags, agent_id: data.agent_id, since: before?.since ?? data.at,
      });
      if (!before) fresh.add(data.id);
    } else {
      waiting.delete(data.id);
    }
    return before;
  }

  function onEvent(name, data) {
    if (name === 'queues' && Array.isArray(data)) {
      let sum = 0;
      for (const s of data) {
        stats.set(s.queue.name, s);
        if (!queues.has(s.queue.name)) queues.set(s.queue.name, s.queue);
        sum += s.available_agents;
      }
      if (availableSum !== null && sum !== availableSum) refreshAgents();
      availableSum = sum;
      renderQueues();
    } else if (name === 'contact' && data && typeof data === 'object') {
      if (loading) {
        pending.push(data);
        return;
      }
      const before = applyContact(data);
      renderWaiting();
      if (data.agent_id || before?.agent_id) refreshAgents();
    } else if (name === 'lagged') {
      loadAll();
    }
  }

  const tick = setInterval(() => {
    for (const el of waitingEl.querySelectorAll('[data-since]')) {
      el.textContent = fmtDuration((Date.now() - Number(el.dataset.since)) / 1000);
    }
  }, 1000);

  renderQueues();
  let connected = false;
  const stop = stream({
    onEvent,
    onState: (state) => {
      liveEl.className = `chip live ${state === 'live' ? 'ok' : 'warn'}`;
      liveEl.textContent = state === 'live' ? 'live' : 'reconnecting…';
      liveEl.dataset.state = state;
      // The lists are read once the stream is open, so no change falls between.
      if (state === 'live' && !connected) {
        connected = true;
        loadAll();
      }
    },
  });
  return () => {
    stop();
    clearInterval(tick);
  };
}
function loadText(a) {
  const channels = Object.keys({ ...(a.capacity || {}), ...(a.load || {}) });
  if (!channels.length) return '—';
  return channels.map((ch) => `${ch} ${a.load?.[ch] ?? 0}/${a.capacity?.[ch] ?? 0}`).join(', ');
}
