// Escalations: a crisis complaint shows on top with its regulatory clock
// counting down; the agent report and the audit trail find what the
// tests did.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, signIn, api, answeredContact, contact, uniq, screenshot } from './helpers.mjs';

test('a crisis complaint is on top with its clock counting down', async (t) => {
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, undefined, '#/escalations');
  await page.getByTestId('crises-table').waitFor();
  // Posted while the page is open: the stream makes it reload the list.
  const c = await contact({ channel: 'social', language: 'is', topics: [uniq('topic')], text: 'Total outage, this is unacceptable' });
  assert.ok(c.deadlines.length, 'the complaint rule started a clock');
  const row = page.getByTestId('crises-table').getByTestId(`complaint-${c.id}`);
  await row.waitFor();
  const clock = page.getByTestId(`clock-${c.id}-${c.deadlines[0].name}`);
  await clock.filter({ hasText: 'left' }).waitFor();
  assert.equal(await clock.getAttribute('data-level'), 'ok');
  const first = await clock.textContent();
  await page.waitForFunction(([id, was]) => document.querySelector(`[data-testid="${id}"]`)?.textContent !== was,
    [`clock-${c.id}-${c.deadlines[0].name}`, first]);
  await screenshot(page, 'escalations');
  await api('POST', `/v1/contacts/${c.id}/events`, { type: 'abandon' });
  assert.deepEqual(b.errors, []);
});

test('the agent report shows what the KPI query says for that day', async (t) => {
  const a = await answeredContact();
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, undefined, '#/report');
  const cell = page.getByTestId(`report-agent-${a}-contacts_handled`);
  await cell.waitFor();
  const now = new Date();
  const from = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const to = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1).getTime();
  const q = await api('POST', '/v1/kpis/query', { measure: 'contacts_handled', from, to, bucket_ms: to - from, group_by: ['agent'] });
  const expected = q.points.find((p) => p.group.agent === a);
  assert.ok(expected?.value >= 1);
  assert.equal(await cell.getAttribute('data-value'), String(expected.value));
  await page.getByTestId('report-teams').waitFor();
  assert.deepEqual(b.errors, []);
});

test('audit: search by subject, page, and the chain verifies', async (t) => {
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  const c = await contact({ language: 'is', topics: [uniq('topic')], text: 'audit me' });
  // Enough records for a second page of 50.
  for (let i = 0; i < 30 && (await api('GET', '/v1/audit?after=50&limit=1')).records.length === 0; i += 1) {
    await contact({ language: 'is', topics: [uniq('topic')], text: 'filler' });
  }
  await signIn(page, undefined, '#/audit');
  await page.locator('[data-testid="audit-verify"][data-state="intact"]').waitFor();
  await page.getByTestId('audit-subject').fill(c.id);
  await page.getByTestId('audit-search').click();
  await page.waitForURL(new RegExp(`subject=${c.id}`));
  const rows = page.getByTestId('audit-table').locator('tbody tr');
  await rows.first().filter({ hasText: c.id }).waitFor();
  const api1 = await api('GET', `/v1/audit?subject=${c.id}&limit=50`);
  assert.equal(await rows.count(), api1.records.length);
  await screenshot(page, 'audit');

  // Cursor paging over the unfiltered trail.
  await page.getByTestId('audit-subject').fill('');
  await page.getByTestId('audit-search').click();
  await page.getByTestId('audit-row-1').waitFor();
  await page.getByTestId('audit-next').click();
  await page.getByTestId('audit-row-51').waitFor();
  assert.equal(await page.getByTestId('audit-row-1').count(), 0);
  await api('POST', `/v1/contacts/${c.id}/events`, { type: 'abandon' });
  assert.deepEqual(b.errors, []);
});
