// One contact (#/contact?id=c-…, linked from the floor, the escalations
// and the drafts): what the customer wrote, what the IVR, bot or social
// intake collected, and the customer context an agent reads before
// answering (GET /v1/contacts/{id}/context): previous contacts across
// channels, open complaints with their clocks, previous agents, the last
// survey. `contextPanel` is also used by the drafts view.

import { h, fill, table, fmtTime, fmtDuration } from './dom.js';
import { api } from './api.js';

const enc = encodeURIComponent;
const ATTR = {
  'handoff.source': ['Handed over by', (v) => ({ ivr: 'IVR', bot: 'bot' })[v] ?? v],
  'handoff.id': ['Hand-off session'],
  'ivr.menu_path': ['IVR menu path', (v) => v.split('>').join(' › ')],
  'ivr.intent': ['IVR intent'],
  'bot.intent': ['Bot intent'],
  'auth.level': ['Authentication', (v) => ({ none: 'none', basic: 'basic', strong: 'strong (verified)' })[v] ?? v],
  'social.source': ['Posted on'],
  'social.author': ['Author'],
  'social.post_id': ['Post'],
  'social.url': ['Link', (v) => (/^https?:\/\//i.test(v) ? h('a', { href: v, rel: 'noopener noreferrer', target: '_blank' }, v) : v)],
  rating: ['Rating', (v) => `${v} of 5 stars`],
};

/** The collected attributes as a definition list, known keys first, in words. */
export function attributeList(attrs = {}) {
  const keys = Object.keys(attrs);
  if (!keys.length) return h('p', { class: 'muted', 'data-testid': 'attributes' }, 'Nothing collected.');
  const known = Object.keys(ATTR).filter((k) => k in attrs);
  const collected = keys.filter((k) => k.startsWith('collected.')).sort();
  const rest = keys.filter((k) => !ATTR[k] && !k.startsWith('collected.')).sort();
  const row = (k, label, value) => [h('dt', {}, label), h('dd', { 'data-testid': `attr-${k}` }, value)];
  return h('dl', { class: 'attrs', 'data-testid': 'attributes' },
    known.map((k) => row(k, ATTR[k][0], ATTR[k][1] ? ATTR[k][1](attrs[k]) : attrs[k])),
    collected.map((k) => row(k, `${k.slice(10).replaceAll('_', ' ')} (collected)`, attrs[k])),
    rest.map((k) => row(k, k, attrs[k])));
}

/** Tags as chips; `incident:<id>` links to the incidents view. */
export function tagChips(tags = []) {
  return tags.map((t) => h('span', { class: `chip ${t === 'crisis' ? 'bad' : t === 'complaint' || t.startsWith('incident:') ? 'warn' : 'none'}` },
    t.startsWith('incident:') ? h('a', { href: `#/incidents?id=${enc(t.slice(9))}` }, t) : t)).flatMap((x) => [x, ' ']);
}

/** ok / warn / bad / none and words for a deadline clock at `now`. */
export function clockState(d, now) {
  if (d.stopped_at) return { level: 'none', text: `stopped ${fmtTime(d.stopped_at)}` };
  if (d.breached_at || now >= d.due_at) return { level: 'bad', text: `breached ${fmtDuration((now - d.due_at) / 1000, 3)} ago` };
  const warned = (d.warn_at || []).some((w) => w <= now);
  return { level: warned ? 'warn' : 'ok', text: `${fmtDuration((d.due_at - now) / 1000, 3)} left` };
}

const link = (id) => h('a', { href: `#/contact?id=${enc(id)}` }, id);
const survey = (s) => (s ? ['csat', 'nps', 'ces'].filter((k) => s[k] != null).map((k) => `${k.toUpperCase()} ${s[k]}`).join(', ') + (s.comment ? ` “${s.comment}”` : '') : '—');

/** The customer context of contact `id`, as an element (loads it). */
export async function contextPanel(id, { heading = 'h2' } = {}) {
  const el = h('div', { class: 'context', 'data-testid': 'context-panel' }, h('p', { class: 'muted' }, 'Loading the customer context…'));
  let c;
  try {
    c = await api('GET', `/v1/contacts/${enc(id)}/context`);
  } catch (e) {
    return fill(el, h('p', { class: 'error' }, `Could not load the customer context: ${e.message}`));
  }
  const now = Date.now();
  const hd = (text) => h(heading === 'h2' ? 'h3' : 'h4', {}, text);
  el.dataset.ready = 'true';
  return fill(el,
    h('p', { 'data-testid': 'context-customer' }, h('strong', {}, `Customer ${c.customer_id}`), ` · tier ${c.customer_tier}`,
      c.tags.length ? [' · tags ', h('span', { 'data-testid': 'context-tags' }, tagChips(c.tags))] : ''),
    hd('Collected for this contact'), attributeList(c.attributes),
    hd('Open complaints'),
    table({
      testid: 'context-complaints',
      columns: [
        { label: 'Contact', cell: (o) => link(o.contact_id) },
        { label: 'Complaint', cell: (o) => `${o.complaint.category}, ${o.complaint.urgency} (since ${fmtTime(o.complaint.marked_at)})` },
        {
          label: 'Clocks',
          cell: (o) => o.clocks.map((d) => {
            const s = clockState(d, now);
            return h('div', {}, h('span', { class: `chip ${s.level}`, 'data-testid': `context-clock-${o.contact_id}-${d.name}`, 'data-level': s.level }, s.text),
              h('span', { class: 'muted' }, ` ${d.name}, due ${fmtTime(d.due_at)}`));
          }),
        },
      ],
      rows: c.open_complaints,
      rowTestid: (o) => `context-complaint-${o.contact_id}`,
      empty: 'No open complaint.',
    }),
    hd(`Previous contacts (last ${c.window_days} days, all channels)`),
    table({
      testid: 'context-recent',
      columns: [
        { label: 'Contact', cell: (p) => link(p.id) },
        { label: 'When', cell: (p) => fmtTime(p.created_at) },
        { label: 'Channel', cell: (p) => p.channel },
        { label: 'State', cell: (p) => p.state + (p.resolved_at ? ` ${fmtTime(p.resolved_at)}` : '') },
        { label: 'Agent', cell: (p) => p.agent_id ?? '—' },
        { label: 'Topics and tags', cell: (p) => [p.topics.join(', '), ' ', tagChips(p.tags)] },
        { label: 'Complaint', cell: (p) => (p.complaint ? `${p.complaint.category}, ${p.complaint.urgency}` : '—') },
        { label: 'Survey', cell: (p) => survey(p.survey) },
        { label: 'What they wrote', cell: (p) => p.excerpt },
      ],
      rows: c.recent,
      rowTestid: (p) => `context-recent-${p.id}`,
      empty: 'No other contact in the window.',
    }),
    h('p', { 'data-testid': 'context-agents' }, h('strong', {}, 'Previous agents: '), c.previous_agents.length ? c.previous_agents.join(', ') : 'none'),
    h('p', { 'data-testid': 'context-survey' }, h('strong', {}, 'Last survey: '),
      c.last_survey ? [survey(c.last_survey), ` on ${fmtTime(c.last_survey.at)} about `, link(c.last_survey.contact_id)] : 'none in the window'));
}

export async function render(root, { params, title }) {
  const id = params.get('id') || '';
  fill(root, h('h1', { tabindex: '-1' }, `${title} ${id}`));
  if (!id) return root.append(h('p', { class: 'error' }, 'No contact id in the address (#/contact?id=c-…).'));
  try {
    const c = await api('GET', `/v1/contacts/${enc(id)}`);
    root.append(
      h('dl', { class: 'attrs', 'data-testid': 'contact-summary' },
        [['Channel', c.channel], ['State', c.state + (c.agent_id ? `, ${c.agent_id}` : '')], ['Queue', c.requirements?.queue ?? '—'],
          ['Customer', `${c.customer_id} (${c.customer_tier}), ${c.language}`], ['Topics', c.topics.join(', ') || '—'],
          ['Created', fmtTime(c.created_at)], ['Tags', c.tags.length ? tagChips(c.tags) : '—']]
          .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
      h('div', { class: 'draft-text', 'data-testid': 'contact-text' }, c.text || '(no text)'),
      h('h2', {}, 'Customer context'),
      await contextPanel(id));
  } catch (e) {
    root.append(h('p', { class: 'error', role: 'alert' }, `Could not load contact ${id}: ${e.message}`));
  }
  return undefined;
}
