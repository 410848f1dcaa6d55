// What-if in the console: an operator runs the live routing policy with a
// config that merges billing into general over the recorded decisions; the
// job's progress is shown, then the report: billing contacts move to
// general, with examples that show both decisions and their reasons.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, signIn, api, uniq, screenshot, CONSOLE } from './helpers.mjs';

test('a what-if of a routing config shows the queues, the moves and examples', async (t) => {
  // Recorded decisions of our own: three billing contacts.
  const ids = [];
  for (let i = 0; i < 3; i += 1) {
    const r = await api('POST', '/v1/contacts', {
      channel: 'chat', customer_id: uniq('whatif-cust'), customer_tier: 'standard', language: 'en',
      topics: ['billing'], text: 'I was charged twice',
    });
    assert.equal(r.contact.requirements.queue, 'billing', JSON.stringify(r));
    ids.push(r.contact.id);
  }
  const { slots } = await api('GET', '/v1/slots');
  const routing = slots.find((s) => s.slot === 'routing').current;
  const { versions } = await api('GET', '/v1/plugins');
  const live = versions.find((v) => v.id === routing.plugin && v.version === routing.version);
  const config = structuredClone(live.manifest.default_config);
  config.topic_queues.billing = 'general';

  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, undefined, '#/whatif');
  await page.getByTestId('whatif-candidate').selectOption(`${routing.plugin}@${routing.version}`);
  await page.getByTestId('whatif-config').fill(JSON.stringify(config));
  await page.getByTestId('whatif-run').click();
  await page.locator('[data-testid="whatif-progress"][data-state="done"]').waitFor();
  const bar = page.getByTestId('whatif-bar');
  assert.equal(await bar.getAttribute('value'), await bar.getAttribute('max'), 'progress to the end');

  const summary = page.getByTestId('whatif-summary');
  assert.ok(Number(await summary.getAttribute('data-changed')) >= 3, await summary.textContent());
  // Billing empties into general.
  const billing = page.getByTestId('whatif-queue-billing');
  assert.equal((await billing.locator('td').nth(2).textContent()).trim(), '0');
  const moves = await page.getByTestId('whatif-moves').textContent();
  assert.match(moves, /billing\s*general/);
  // Our contacts are among the examples, with both decisions.
  const examples = await page.getByTestId('whatif-examples').textContent();
  assert.ok(ids.some((id) => examples.includes(id)), examples);
  assert.match(examples, /billing · p\d/);
  assert.match(examples, /general · p\d/);
  assert.match(examples, /skills billing≥3/);
  await page.getByTestId('whatif-summary').scrollIntoViewIfNeeded();
  await page.evaluate(() => window.scrollBy(0, 420));
  await screenshot(page, 'whatif');

  // The job is kept: the report opens again from its link.
  const { jobs } = await api('GET', '/v1/whatif');
  assert.equal(jobs[0].state, 'done');
  await page.goto('about:blank');
  await page.goto(`${CONSOLE}#/whatif?job=${jobs[0].id}`);
  await page.locator('[data-testid="whatif-progress"][data-state="done"]').waitFor();
  assert.ok(Number(await page.getByTestId('whatif-summary').getAttribute('data-changed')) >= 3);
});

test('a candidate that cannot run is refused with the server\'s reason', async (t) => {
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, undefined, '#/whatif');
  const { versions } = await api('GET', '/v1/plugins');
  const kpi = versions.find((v) => v.kind === 'kpi');
  await page.getByTestId('whatif-candidate').selectOption(`${kpi.id}@${kpi.version}`);
  await page.getByTestId('whatif-run').click();
  const err = page.getByTestId('whatif-error');
  await err.filter({ hasText: 'slot' }).waitFor();
  assert.match(await err.textContent(), /name it in `slot`/);
});

test('a shadowed slot shows its live agreement on the plugins page', async (t) => {
  const { slots } = await api('GET', '/v1/slots');
  const live = slots.find((s) => s.slot === 'routing').current;
  // The live version as its own candidate: every answer agrees.
  await api('PUT', '/v1/slots/routing/shadow', { plugin: live.plugin, version: live.version });
  t.after(() => api('DELETE', '/v1/slots/routing/shadow').catch(() => {}));
  await api('POST', '/v1/contacts', {
    channel: 'chat', customer_id: uniq('shadow-cust'), customer_tier: 'standard', language: 'en',
    topics: ['billing'], text: 'shadow me',
  });
  const status = await api('GET', '/v1/slots/routing/shadow?settle=true');
  assert.ok(status.compared >= 1, JSON.stringify(status));

  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, undefined, '#/plugins');
  const chip = page.getByTestId('slot-shadow-routing');
  await chip.waitFor();
  assert.equal(await chip.getAttribute('data-agreement'), '1');
  assert.match(await chip.textContent(), new RegExp(`shadow ${live.plugin}@${live.version}: 100.0% agree`));
});
