// Incidents: an operator declares one in the console, the contacts that
// mention its keyword are counted as tagged `incident:<id>`, and closing it
// (after a confirmation that can be cancelled) ends it; a viewer reads the
// list without the form or the close buttons.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, signIn, api, contact, tokenFor, uniq, screenshot } from './helpers.mjs';

test('declare an incident, count its contacts, close it', async (t) => {
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  const title = uniq('Card payments failing');
  const keyword = uniq('paywall');
  await signIn(page, await tokenFor('operator'), '#/incidents');
  await page.getByTestId('incidents-table').waitFor();

  // Neither keywords nor products: refused at the field, nothing declared.
  await page.getByTestId('incident-title').fill(title);
  await page.getByTestId('incident-declare').click();
  await page.getByTestId('incident-error').filter({ hasText: 'keywords or products' }).waitFor();
  assert.equal(await page.getByTestId('incident-keywords').getAttribute('aria-invalid'), 'true');

  await page.getByTestId('incident-keywords').fill(`${keyword}, card declined`);
  await page.getByTestId('incident-products').fill('cards');
  await page.getByTestId('incident-message').fill('We know card payments fail and are fixing it.');
  const declared = page.waitForResponse((r) => r.url().endsWith('/v1/incidents') && r.request().method() === 'POST');
  await page.getByTestId('incident-declare').click();
  const inc = await (await declared).json();
  assert.equal(inc.title, title);
  assert.deepEqual(inc.keywords, [keyword, 'card declined']);
  assert.deepEqual(inc.products, ['cards']);
  assert.equal(inc.message, 'We know card payments fail and are fixing it.');
  const row = page.getByTestId(`incident-${inc.id}`);
  await row.waitFor();
  assert.equal(await page.getByTestId(`incident-state-${inc.id}`).getAttribute('data-state'), 'active');
  assert.match(await row.textContent(), /We know card payments fail/);
  assert.equal(await page.getByTestId(`incident-count-${inc.id}`).getAttribute('data-count'), '0');

  // A contact that mentions the keyword is tagged by routing and counted.
  const c = await contact({ language: 'is', topics: [uniq('topic')], text: `my card hit the ${keyword} again` });
  assert.ok(c.tags.includes(`incident:${inc.id}`), `routing tagged the contact: ${c.tags}`);
  await page.reload();
  await page.locator(`[data-testid="incident-count-${inc.id}"][data-count="1"]`).waitFor();
  await screenshot(page, 'incidents');

  // Cancelling the confirmation closes nothing.
  await page.getByTestId(`incident-close-${inc.id}`).click();
  await page.getByTestId('incident-close-dialog-cancel').click();
  await page.getByTestId('incident-close-dialog').waitFor({ state: 'detached' });
  assert.equal((await api('GET', `/v1/incidents/${inc.id}`)).closed_by, null);

  await page.getByTestId(`incident-close-${inc.id}`).click();
  await page.getByTestId('incident-close-dialog-ok').click();
  await page.locator(`[data-testid="incident-state-${inc.id}"][data-state="ended"]`).waitFor();
  assert.equal(await page.getByTestId(`incident-close-${inc.id}`).count(), 0);
  const after = await api('GET', `/v1/incidents/${inc.id}`);
  assert.match(after.closed_by, /^token:/);
  assert.ok(after.ended_at >= inc.started_at);
  await api('POST', `/v1/contacts/${c.id}/events`, { type: 'abandon' });
  assert.deepEqual(b.errors, []);
});

test('a viewer reads incidents but cannot declare or close one', async (t) => {
  const inc = await api('POST', '/v1/incidents', { title: uniq('Outage'), keywords: [uniq('kw')] });
  t.after(() => api('POST', `/v1/incidents/${inc.id}/close`, {}));
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, await tokenFor('viewer'), '#/incidents');
  await page.getByTestId(`incident-${inc.id}`).waitFor();
  assert.equal(await page.getByTestId(`incident-state-${inc.id}`).getAttribute('data-state'), 'active');
  assert.equal(await page.getByTestId('incident-form').count(), 0);
  assert.equal(await page.locator('[data-testid^="incident-close-"]').count(), 0);
  assert.deepEqual(b.errors, []);
});
