// KPIs: the chart and the table show what POST /v1/kpis/query answers
// for the very query the console sent; the pickers change the query.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, signIn, api, answeredContact, screenshot } from './helpers.mjs';

/** The table's values and the API's, for the query the console shows. */
async function compare(page) {
  await page.getByTestId('kpi-table').waitFor();
  const q = JSON.parse(await page.getByTestId('kpi-query').textContent());
  const answer = await api('POST', '/v1/kpis/query', q);
  const shown = await page.locator('[data-testid^="kpi-value-"]').evaluateAll((els) => els.map((e) => e.dataset.value));
  assert.deepEqual(shown, answer.points.map((p) => (p.value === null ? 'null' : String(p.value))));
  return { q, answer };
}

test('a KPI chart shows the same values as the API for the same query', async (t) => {
  const a = await answeredContact();

  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, undefined, '#/kpis?measure=contacts_handled&window=24h&bucket=3600000&group=agent');
  const { answer } = await compare(page);
  assert.ok(answer.points.some((p) => p.group.agent === a && p.value >= 1), `agent ${a} handled a contact`);
  const points = await page.getByTestId('kpi-chart').locator('[data-testid="kpi-chart-point"]').count();
  assert.equal(points, answer.points.filter((p) => p.value !== null).length, 'one dot per point');
  await screenshot(page, 'kpis');

  // Change the pickers: service level per queue and channel, 15-minute buckets.
  await page.getByTestId('kpi-measure').selectOption('service_level');
  await page.getByTestId('kpi-bucket').selectOption(String(15 * 60e3));
  await page.getByTestId('kpi-group-agent').uncheck();
  await page.getByTestId('kpi-group-queue').check();
  await page.getByTestId('kpi-group-channel').check();
  await page.getByTestId('kpi-submit').click();
  await page.getByRole('heading', { name: /^service_level/ }).waitFor();
  const { q } = await compare(page);
  assert.equal(q.measure, 'service_level');
  assert.equal(q.bucket_ms, 15 * 60e3);
  assert.deepEqual(q.group_by, ['queue', 'channel']);
  assert.equal(q.from % q.bucket_ms, 0, 'the window is aligned to the bucket');
  assert.deepEqual(b.errors, []);
});
