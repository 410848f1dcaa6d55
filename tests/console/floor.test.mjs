// The live floor follows the SSE stream: a queue and a contact created
// through the API show up without a reload, and the contact leaves the
// waiting list when it is abandoned.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, signIn, api, contact, uniq, screenshot } from './helpers.mjs';

test('a contact posted through the API appears live on the floor', async (t) => {
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, undefined, '#/floor');
  await page.locator('[data-testid="floor-live"][data-state="live"]').waitFor();
  await page.getByTestId('floor-waiting').waitFor();
  await page.evaluate(() => {
    window.notReloaded = true;
  });

  const queue = uniq('console-q');
  await api('PUT', `/v1/queues/${queue}`, { name: queue, priority: 3, service_level: { share: 0.8, within_secs: 20 } });
  await page.getByTestId(`queue-row-${queue}`).waitFor();
  assert.equal(await page.getByTestId(`queue-sl-${queue}`).getAttribute('data-level'), 'none');

  // Nobody speaks Icelandic here, so the contact keeps waiting.
  const c = await contact({ channel: 'social', language: 'is', topics: [uniq('topic')], text: 'the app is down again' });
  const row = page.getByTestId(`waiting-${c.id}`);
  await row.waitFor();
  const text = await row.textContent();
  assert.match(text, /social/);
  assert.match(text, new RegExp(c.requirements.queue));
  await screenshot(page, 'floor');

  await api('POST', `/v1/contacts/${c.id}/events`, { type: 'abandon' });
  await row.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page was not reloaded');
  assert.deepEqual(b.errors, []);
});
