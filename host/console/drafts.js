// Drafts. Supervisors (admin, operator): the approval queue, each pending
// draft with its compliance findings highlighted at their spans, approve
// or reject with a comment; rejected drafts are listed as back with their
// agent. Agents: their own drafts, with what came back to them, where
// a finding's suggested wording can be taken in one step (a new draft,
// checked again). Every card can show the customer context.

import { h, fill, field, fmtTime, announce } from './dom.js';
import { api, allPages, can, qs } from './api.js';
import { segments, spanText } from './spans.js';

const STATE_CHIP = {
  approved: ['ok', 'approved'],
  pending_approval: ['warn', 'waiting for a supervisor'],
  needs_revision: ['warn', 'needs revision'],
  rejected: ['bad', 'rejected: back with the agent'],
  blocked: ['bad', 'blocked'],
};
const SEVERITY_WORD = { critical: 'Critical', error: 'Error', warning: 'Warning', info: 'Info' };

let canAudit = false;
let canAccept = false;

export async function render(root, { me, title, params, navigate }) {
  canAudit = can(me, 'ReadAudit');
  const supervisor = can(me, 'ApproveDrafts');
  canAccept = !supervisor && can(me, 'WriteContacts');
  const agentIn = h('input', { type: 'text', size: 12, value: params.get('agent') || '', 'data-testid': 'drafts-agent-filter' });
  const filter = h('form', { class: 'row', 'data-testid': 'drafts-filter' },
    field('Agent', agentIn, me.role === 'agent' && !supervisor ? 'An agent’s own token always lists its own drafts.' : 'Leave empty for all agents.'),
    h('button', { type: 'submit' }, 'Filter'));
  filter.addEventListener('submit', (ev) => {
    ev.preventDefault();
    navigate('drafts', { agent: agentIn.value.trim() });
  });
  const agent = params.get('agent') || undefined;
  fill(root, h('h1', { tabindex: '-1' }, title), filter);

  if (supervisor) {
    const pendingEl = h('div', { class: 'cards', 'data-testid': 'drafts-pending' });
    const returnedEl = h('div', { class: 'cards', 'data-testid': 'drafts-returned' });
    const pendingTitle = h('h2', { tabindex: '-1' }, 'Waiting for approval');
    root.append(pendingTitle, pendingEl, h('h2', {}, 'Returned to agents'),
      h('p', { class: 'muted' }, 'Rejected drafts are back with their agent, with your comment; the newest first.'), returnedEl);
    const onDecided = (d) => {
      // Keyboard users go on with the next draft (or the list's heading).
      const card = pendingEl.querySelector(`[data-testid="draft-${CSS.escape(d.id)}"]`);
      const next = card?.nextElementSibling ?? card?.previousElementSibling;
      card?.remove();
      (next?.querySelector('textarea') ?? pendingTitle).focus();
      if (!pendingEl.querySelector('.card')) fill(pendingEl, h('p', { class: 'muted', 'data-testid': 'drafts-pending-empty' }, 'Nothing waits for approval.'));
      if (d.state === 'rejected') {
        returnedEl.querySelector('.muted')?.remove();
        returnedEl.prepend(draftCard(d, {}));
      }
    };
    await Promise.all([
      loadList(pendingEl, { state: 'pending_approval', agent }, { onDecided, empty: 'Nothing waits for approval.', emptyTestid: 'drafts-pending-empty' }),
      loadList(returnedEl, { state: 'rejected', agent }, { newest: 20, empty: 'No rejected drafts.' }),
    ]);
  } else {
    const backEl = h('div', { class: 'cards', 'data-testid': 'drafts-back' });
    const waitEl = h('div', { class: 'cards', 'data-testid': 'drafts-waiting' });
    const okEl = h('div', { class: 'cards', 'data-testid': 'drafts-approved' });
    root.append(h('h2', {}, 'Back with you'),
      h('p', { class: 'muted' }, 'Rejected by a supervisor, blocked, or to be revised: fix what the findings and comments say, and submit again.'),
      backEl, h('h2', {}, 'Waiting for a supervisor'), waitEl, h('h2', {}, 'Approved (newest first)'), okEl);
    await Promise.all([
      loadMerged(backEl, ['rejected', 'needs_revision', 'blocked'], agent, 'Nothing is back with you.'),
      loadList(waitEl, { state: 'pending_approval', agent }, { empty: 'Nothing waits.' }),
      loadList(okEl, { state: 'approved', agent }, { newest: 10, empty: 'No approved drafts yet.' }),
    ]);
  }
  return undefined;
}

async function loadList(el, filter, { onDecided, newest, empty, emptyTestid }) {
  try {
    let drafts;
    if (newest) {
      drafts = (await allPages('/v1/drafts', { ...filter, limit: 1000 }, 'drafts', { max: 5 })).items.slice(-newest).reverse();
    } else {
      drafts = (await api('GET', `/v1/drafts${qs({ ...filter, limit: 100 })}`)).drafts;
    }
    fill(el, drafts.length ? drafts.map((d) => draftCard(d, { onDecided })) : h('p', { class: 'muted', 'data-testid': emptyTestid }, empty));
  } catch (e) {
    fill(el, h('p', { class: 'error' }, `Could not load drafts: ${e.message}`));
  }
}

async function loadMerged(el, states, agent, empty) {
  try {
    const lists = await Promise.all(states.map((state) => allPages('/v1/drafts', { state, agent, limit: 1000 }, 'drafts', { max: 5 })));
    const drafts = lists.flatMap((l) => l.items).sort((a, b) => (b.decided_at ?? b.submitted_at) - (a.decided_at ?? a.submitted_at)).slice(0, 30);
    fill(el, drafts.length ? drafts.map((d) => draftCard(d, {})) : h('p', { class: 'muted' }, empty));
  } catch (e) {
    fill(el, h('p', { class: 'error' }, `Could not load drafts: ${e.message}`));
  }
}

/** The draft text with each spanned finding marked and numbered. */
export function highlighted(text, findings) {
  return h('div', { class: 'draft-text', 'data-testid': 'draft-text' },
    segments(text, findings).map((seg) => {
      if (!seg.findings.length) return seg.text;
      const worst = seg.findings.map((i) => sev(findings[i])).sort((a, b) => sevRank(b) - sevRank(a))[0];
      return [
        h('mark', {
          class: `sev-${worst}`, 'data-testid': 'finding-mark', 'data-findings': seg.findings.join(' '),
          title: seg.findings.map((i) => findings[i].message).join('; '),
        }, seg.text),
        h('sup', {}, seg.findings.map((i) => `[${i + 1}]`).join('')),
      ];
    }));
}

/** Severity in lower case (the API sends WIT enum names, e.g. `Warning`). */
function sev(f) {
  return String(f.severity).toLowerCase();
}

function sevRank(s) {
  return ['info', 'warning', 'error', 'critical'].indexOf(s);
}

function draftCard(d, { onDecided }) {
  const [cls, word] = STATE_CHIP[d.state] ?? ['none', d.state];
  const findings = d.check?.findings ?? [];
  const accept = canAccept && d.state !== 'approved';
  const card = h('article', { class: 'card', 'data-testid': `draft-${d.id}`, 'aria-label': `Draft ${d.id}` },
    h('header', {},
      h('strong', {}, d.id),
      h('span', {}, 'contact ', canAudit ? h('a', { href: `#/audit?subject=${encodeURIComponent(d.contact_id)}` }, d.contact_id) : d.contact_id),
      h('span', {}, `agent ${d.agent_id}`),
      d.revision_of ? h('span', { class: 'muted', 'data-testid': `draft-revision-of-${d.id}` }, `revises ${d.revision_of}`) : null,
      h('span', { class: 'muted' }, `submitted ${fmtTime(d.submitted_at)}`),
      h('span', { class: `chip ${cls}`, 'data-testid': `draft-state-${d.id}`, 'data-state': d.state }, word)),
    highlighted(d.text, findings),
    findings.length
      ? h('ol', { class: 'findings', 'data-testid': 'draft-findings' },
        findings.map((f, i) => h('li', {},
          h('strong', {}, SEVERITY_WORD[sev(f)] ?? f.severity), ` ${f.rule_id} (${f.slot}): ${f.message}`,
          f.span ? h('span', { class: 'muted' }, ` — at “${spanText(d.text, f.span)}” (characters ${f.span.start}–${f.span.end})`) : h('span', { class: 'muted' }, ' — the whole draft'),
          f.suggestion ? h('span', {}, `; suggested: “${f.suggestion}”`) : null,
          accept && f.suggestion ? [' ', h('button', {
            type: 'button', class: 'small', 'data-testid': `draft-use-${d.id}-${i}`, onclick: () => acceptSuggestions(card, d, [i]),
            'aria-label': `Use suggestion “${f.suggestion}” for finding ${i + 1}`,
          }, 'Use suggestion')] : null)))
      : h('p', { class: 'muted' }, 'No findings.'),
    accept && findings.filter((f) => f.suggestion).length > 1
      ? h('p', {}, h('button', { type: 'button', 'data-testid': `draft-accept-all-${d.id}`, onclick: () => acceptSuggestions(card, d) }, 'Accept all suggestions'))
      : null,
    d.check?.unchecked?.length ? h('p', { class: 'error' }, `Not checked: ${d.check.unchecked.join('; ')}`) : null,
    d.check?.redacted_text ? h('p', {}, h('strong', {}, 'Will be sent as: '), d.check.redacted_text) : null,
    d.decided_at && d.decided_by !== 'compliance'
      ? h('p', { 'data-testid': `draft-decision-${d.id}` },
        h('strong', {}, d.state === 'rejected' ? 'Rejected' : 'Decided'), ` by ${d.decided_by} at ${fmtTime(d.decided_at)}`,
        d.comment ? [': ', h('q', { 'data-testid': `draft-comment-text-${d.id}` }, d.comment)] : '')
      : null,
    contextDetails(d));
  if (onDecided && d.state === 'pending_approval') card.append(decisionForm(d, onDecided));
  return card;
}

/** The customer context, loaded when opened. */
function contextDetails(d) {
  const el = h('details', { class: 'context-details', 'data-testid': `draft-context-${d.id}` }, h('summary', {}, 'Customer context'));
  el.addEventListener('toggle', async () => {
    if (!el.open || el.dataset.loaded) return;
    el.dataset.loaded = 'true';
    const { contextPanel } = await import('./contact.js');
    el.append(await contextPanel(d.contact_id, { heading: 'h3' }));
  });
  return el;
}

/** Take findings' suggestions (all with one when `findings` is absent): a new draft. */
async function acceptSuggestions(card, d, findings) {
  const buttons = card.querySelectorAll('button');
  for (const b of buttons) b.disabled = true;
  try {
    const nd = await api('POST', `/v1/drafts/${encodeURIComponent(d.id)}/accept-suggestions`, findings ? { findings } : {});
    const next = draftCard(nd, {});
    next.classList.add('flash');
    card.after(next);
    card.querySelector('header').append(h('span', { class: 'chip none', 'data-testid': `draft-revised-${d.id}` }, `revised as ${nd.id}`));
    announce(`New draft ${nd.id}: ${STATE_CHIP[nd.state]?.[1] ?? nd.state}.`, 'ok');
    next.setAttribute('tabindex', '-1');
    next.focus();
  } catch (e) {
    for (const b of buttons) b.disabled = false;
    announce(`Could not take the suggestion: ${e.message}`, 'error');
  }
}

function decisionForm(d, onDecided) {
  const comment = h('textarea', { rows: 2, 'data-testid': `draft-comment-${d.id}` });
  const err = h('span', { class: 'field-error', id: `${d.id}-err`, 'data-testid': `draft-error-${d.id}` });
  comment.setAttribute('aria-describedby', err.id);
  const decide = async (approve) => {
    const text = comment.value.trim();
    if (!approve && !text) {
      err.textContent = 'A rejection needs a comment telling the agent what to change.';
      comment.setAttribute('aria-invalid', 'true');
      comment.focus();
      return;
    }
    err.textContent = '';
    comment.removeAttribute('aria-invalid');
    for (const b of form.querySelectorAll('button')) b.disabled = true;
    try {
      const done = await api('POST', `/v1/drafts/${encodeURIComponent(d.id)}/${approve ? 'approve' : 'reject'}`, text ? { comment: text } : {});
      announce(approve ? `Draft ${d.id} approved; it can be sent.` : `Draft ${d.id} rejected: it is back with agent ${d.agent_id}.`, 'ok');
      onDecided(done);
    } catch (e) {
      err.textContent = e.message;
      for (const b of form.querySelectorAll('button')) b.disabled = false;
    }
  };
  const form = h('form', { class: 'decision' },
    field('Comment to the agent (required to reject)', comment), err,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'danger', 'data-testid': `draft-reject-${d.id}`, onclick: () => decide(false) }, 'Reject'),
      h('button', { type: 'submit', class: 'primary', 'data-testid': `draft-approve-${d.id}` }, 'Approve')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    decide(true);
  });
  return form;
}
