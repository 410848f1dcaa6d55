// The approval queue: a draft for a `legal` contact waits for a supervisor
// (brand-compliance's approval_topics); its findings are marked at their
// spans (scalar values, converted for UTF-16); approving sends it, and
// rejecting (comment required) sends it back to the agent, who sees it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, signIn, api, agent, contact, tokenFor, uniq, screenshot } from './helpers.mjs';

async function pendingDraft(text) {
  const a = await agent(uniq('console-agent'));
  const c = await contact({ channel: 'email', topics: ['legal'], text: 'a question about my contract' });
  const d = await api('POST', `/v1/contacts/${c.id}/drafts`, { agent_id: a, text });
  assert.equal(d.state, 'pending_approval', 'drafts on legal contacts need approval (approval_topics)');
  return { a, c, d };
}

test('approve a pending draft', async (t) => {
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  // An emoji (two UTF-16 units, one scalar value) and Korean before the
  // discouraged phrase: a span used as UTF-16 offsets would be off by one.
  const { d } = await pendingDraft('😀 안녕하세요. Unfortunately the contract says so; call us asap.');
  await signIn(page, undefined, '#/drafts');
  const card = page.getByTestId(`draft-${d.id}`);
  await card.waitFor();
  const marks = await card.getByTestId('finding-mark').allTextContents();
  assert.deepEqual(marks, ['Unfortunately', 'asap']);
  await screenshot(page, 'approvals');

  await page.getByTestId(`draft-comment-${d.id}`).fill('fine to send');
  await page.getByTestId(`draft-approve-${d.id}`).click();
  await card.waitFor({ state: 'detached' });
  const after = await api('GET', `/v1/drafts/${d.id}`);
  assert.equal(after.state, 'approved');
  assert.equal(after.comment, 'fine to send');
  assert.match(after.decided_by, /^token:/);
  assert.deepEqual(b.errors, []);
});

test('reject a pending draft: it is back with the agent', async (t) => {
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  const { a, d } = await pendingDraft('You have to sign the attached form.');
  const agentToken = await tokenFor('agent', a);
  await signIn(page, undefined, '#/drafts');
  const pending = page.getByTestId('drafts-pending').getByTestId(`draft-${d.id}`);
  await pending.waitFor();

  // A rejection without a comment is refused at the field.
  await page.getByTestId(`draft-reject-${d.id}`).click();
  await page.getByTestId(`draft-error-${d.id}`).filter({ hasText: 'needs a comment' }).waitFor();
  assert.equal(await page.getByTestId(`draft-comment-${d.id}`).getAttribute('aria-invalid'), 'true');
  assert.equal((await api('GET', `/v1/drafts/${d.id}`)).state, 'pending_approval');

  await page.getByTestId(`draft-comment-${d.id}`).fill('Say "you can" and link the form.');
  await page.getByTestId(`draft-reject-${d.id}`).click();
  await pending.waitFor({ state: 'detached' });
  const returned = page.getByTestId('drafts-returned').getByTestId(`draft-${d.id}`);
  await returned.waitFor();
  assert.equal(await returned.getByTestId(`draft-state-${d.id}`).getAttribute('data-state'), 'rejected');
  const after = await api('GET', `/v1/drafts/${d.id}`);
  assert.equal(after.state, 'rejected');
  assert.equal(after.comment, 'Say "you can" and link the form.');

  // The agent signs in and finds it back with them, with the comment.
  await page.getByTestId('signout').click();
  await signIn(page, agentToken, '#/drafts');
  assert.equal(await page.getByTestId('nav-drafts').textContent(), 'My drafts');
  const back = page.getByTestId('drafts-back').getByTestId(`draft-${d.id}`);
  await back.waitFor();
  assert.equal(await back.getByTestId(`draft-comment-text-${d.id}`).textContent(), 'Say "you can" and link the form.');
  assert.equal(await back.getByRole('button', { name: 'Reject' }).count(), 0, 'an agent cannot decide');
  await screenshot(page, 'my-drafts');
  assert.deepEqual(b.errors, []);
});

/** A card's draft text as shown, without the findings' [n] numbers. */
const shownText = (card) => card.getByTestId('draft-text').evaluate((el) => {
  const copy = el.cloneNode(true);
  for (const sup of copy.querySelectorAll('sup')) sup.remove();
  return copy.textContent;
});

test('the agent takes a suggested wording: a new draft with the replaced text', async (t) => {
  const a = await agent(uniq('console-agent'));
  const c = await contact({ channel: 'email', language: 'is', topics: [uniq('topic')], text: 'when will you answer?' });
  // Two phrases of the default phrasebook, each with a suggestion.
  const d = await api('POST', `/v1/contacts/${c.id}/drafts`, { agent_id: a, text: 'We will reply asap. Unfortunately it takes a day.' });
  assert.equal(d.state, 'needs_revision');
  const asap = d.check.findings.findIndex((f) => f.suggestion === 'as soon as possible');
  assert.ok(asap >= 0, JSON.stringify(d.check.findings));
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, await tokenFor('agent', a), '#/drafts');
  const card = page.getByTestId('drafts-back').getByTestId(`draft-${d.id}`);
  await card.waitFor();
  await card.getByTestId(`draft-accept-all-${d.id}`).waitFor();

  const accepted = page.waitForResponse((r) => r.url().endsWith(`/v1/drafts/${d.id}/accept-suggestions`));
  await card.getByTestId(`draft-use-${d.id}-${asap}`).click();
  const res = await accepted;
  assert.equal(res.status(), 201);
  assert.deepEqual(JSON.parse(res.request().postData()), { findings: [asap] });
  const nd = await res.json();
  const next = page.getByTestId(`draft-${nd.id}`);
  await next.waitFor();
  assert.equal(await shownText(next), 'We will reply as soon as possible. Unfortunately it takes a day.');
  assert.equal(await next.getByTestId(`draft-revision-of-${nd.id}`).textContent(), `revises ${d.id}`);
  await page.getByTestId(`draft-revised-${d.id}`).waitFor();
  const stored = await api('GET', `/v1/drafts/${nd.id}`);
  assert.equal(stored.revision_of, d.id);
  assert.equal(stored.text, 'We will reply as soon as possible. Unfortunately it takes a day.');
  // Checked again: the other phrase is still found, and can be taken too.
  const marks = await next.getByTestId('finding-mark').allTextContents();
  assert.deepEqual(marks, ['Unfortunately']);
  const again = page.waitForResponse((r) => r.url().endsWith(`/v1/drafts/${nd.id}/accept-suggestions`));
  await next.getByRole('button', { name: /Use suggestion “I'm sorry, but”/ }).click();
  const nd2 = await (await again).json();
  const third = page.getByTestId(`draft-${nd2.id}`);
  await third.waitFor();
  assert.equal(await shownText(third), "We will reply as soon as possible. I'm sorry, but it takes a day.");
  assert.equal(await third.getByTestId('finding-mark').count(), 0);
  await screenshot(page, 'suggestions');
  await api('POST', `/v1/contacts/${c.id}/events`, { type: 'abandon' });
  assert.deepEqual(b.errors, []);
});
