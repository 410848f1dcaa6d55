// The customer context: a returning customer's earlier complaint (an
// e-mail, still open, with its clock) shows in the context of their new
// contact (an IVR hand-off), with what the IVR collected in words; the
// agent sees the same context on their draft.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, signIn, api, agent, contact, tokenFor, uniq, screenshot } from './helpers.mjs';

async function returningCustomer() {
  const customer = uniq('cust');
  const first = await contact({ customer_id: customer, channel: 'email', language: 'is', topics: [uniq('topic')], text: 'I want to file a complaint: this is unacceptable' });
  assert.ok(first.complaint, 'the escalation rules marked a complaint');
  assert.ok(first.deadlines.length, 'with a clock');
  const handoff = await api('POST', '/v1/intake/handoffs', {
    source: 'ivr', external_id: uniq('call'), customer_id: customer, language: 'is', topics: [uniq('topic')],
    menu_path: ['billing', 'card', 'lost'], auth_level: 'strong', collected: { order_number: 'A-1234' }, text: 'my card is lost',
  });
  assert.equal(handoff.outcome, 'contact');
  return { customer, first, second: handoff.contact_id };
}

test('a returning customer: previous contact, open complaint and IVR data', async (t) => {
  const { customer, first, second } = await returningCustomer();
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, undefined, `#/contact?id=${second}`);
  const panel = page.getByTestId('context-panel');
  await panel.locator(`[data-testid="context-recent-${first.id}"]`).waitFor();
  assert.match(await page.getByTestId('context-customer').textContent(), new RegExp(customer));
  const recent = await page.getByTestId(`context-recent-${first.id}`).textContent();
  assert.match(recent, /email/);
  assert.match(recent, /unacceptable/);
  await page.getByTestId(`context-complaint-${first.id}`).waitFor();
  const clock = page.getByTestId(`context-clock-${first.id}-${first.deadlines[0].name}`);
  assert.equal(await clock.getAttribute('data-level'), 'ok');
  assert.match(await clock.textContent(), /left$/);
  assert.equal(await panel.getByTestId('attr-ivr.menu_path').textContent(), 'billing › card › lost');
  assert.equal(await panel.getByTestId('attr-handoff.source').textContent(), 'IVR');
  assert.equal(await panel.getByTestId('attr-auth.level').textContent(), 'strong (verified)');
  assert.equal(await panel.getByTestId('attr-collected.order_number').textContent(), 'A-1234');
  assert.equal(await page.getByTestId(`context-recent-${second}`).count(), 0, 'the contact itself is not a previous one');
  await screenshot(page, 'contact');
  // The previous contact is a link to its own page.
  await page.getByTestId(`context-recent-${first.id}`).getByRole('link', { name: first.id }).click();
  await page.locator(`[data-testid="view-contact"][data-ready]`).waitFor();
  assert.match(await page.getByTestId('contact-text').textContent(), /file a complaint/);
  for (const id of [first.id, second]) await api('POST', `/v1/contacts/${id}/events`, { type: 'abandon' });
  assert.deepEqual(b.errors, []);
});

test('the agent sees the customer context on a draft', async (t) => {
  const { first, second } = await returningCustomer();
  const a = await agent(uniq('console-ctx'));
  const d = await api('POST', `/v1/contacts/${second}/drafts`, { agent_id: a, text: 'Unfortunately the card is blocked.' });
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, await tokenFor('agent', a), '#/drafts');
  const details = page.getByTestId(`draft-context-${d.id}`);
  await details.locator('summary').click();
  await details.getByTestId(`context-recent-${first.id}`).waitFor();
  await details.getByTestId(`context-complaint-${first.id}`).waitFor();
  for (const id of [first.id, second]) await api('POST', `/v1/contacts/${id}/events`, { type: 'abandon' });
  assert.deepEqual(b.errors, []);
});
