// Schedules, adherence and goals in the agent report: an agent planned on
// the queue from now on, and available all along, adheres 100%; the goals
// that apply to them show met, not met and no data; an admin sets a goal
// in the console and removes one after a confirmation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, signIn, api, agent, uniq, screenshot } from './helpers.mjs';

test('adherence, a schedule timeline and goal progress for a scheduled agent', async (t) => {
  const team = uniq('console-team');
  const a = await agent(uniq('console-sched'), { teams: [team] });
  // Planned from after the agent became available: adherent all along.
  // Both activities end before local midnight, so today's report shows
  // both whatever the time of day the test runs at (a slot is an hour, or a
  // third of what is left of the day).
  const t0 = Date.now() + 1;
  const midnight = new Date(t0).setHours(24, 0, 0, 0);
  const slot = Math.max(1000, Math.min(3600e3, Math.floor((midnight - t0) / 3)));
  await api('PUT', `/v1/agents/${a}/schedule`, {
    activities: [{ activity: 'available', start: t0, end: t0 + slot }, { activity: 'lunch', start: t0 + slot, end: t0 + 2 * slot }],
  });
  const goals = { miss: uniq('g-conf'), none: uniq('g-cph') };
  await api('PUT', `/v1/goals/${goals.miss}`, { scope: { agent: a }, measure: 'conformance', target: 0.5, direction: 'at_most' });
  await api('PUT', `/v1/goals/${goals.none}`, { scope: { agent: a }, measure: 'contacts_per_hour', target: 1 });
  const made = uniq('g-adh');
  t.after(() => Promise.all([goals.miss, goals.none, made].map((g) => api('DELETE', `/v1/goals/${g}`).catch(() => {}))));

  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, undefined, '#/report');
  await page.getByTestId(`report-agent-${a}`).waitFor();
  assert.equal(await page.getByTestId(`report-agent-${a}-adherence`).getAttribute('data-value'), '1');
  assert.equal(await page.getByTestId(`report-agent-${a}-adherence`).textContent(), '100.0%');
  assert.ok(Number(await page.getByTestId(`report-agent-${a}-conformance`).getAttribute('data-value')) >= 1);
  assert.equal(await page.getByTestId(`goal-report-agent-${a}-${goals.miss}`).getAttribute('data-level'), 'missed');
  assert.equal(await page.getByTestId(`goal-report-agent-${a}-${goals.none}`).getAttribute('data-level'), 'none');
  assert.equal(await page.getByTestId(`goal-report-agent-${a}-${goals.none}`).textContent(), 'no data');
  // The team adds up its members' schedules.
  assert.equal(await page.getByTestId(`report-team-${team}-adherence`).getAttribute('data-value'), '1');
  // Today's plan as a timeline, in words as well.
  const plan = await page.getByTestId(`schedule-${a}`).textContent();
  assert.match(plan, /available/);
  assert.match(plan, /lunch/);
  assert.equal(await page.getByTestId(`schedule-${a}`).locator('rect.act').count(), 2);
  assert.equal(await page.getByTestId(`schedule-adherence-${a}`).textContent(), '100.0%');
  await page.getByTestId('report-schedules').scrollIntoViewIfNeeded();
  await screenshot(page, 'report');

  // An admin sets a goal in the console: adherence at least 90% for the agent.
  await page.getByTestId('goal-id').fill(made);
  await page.getByTestId('goal-scope').selectOption('agent');
  await page.getByTestId('goal-who').fill(a);
  await page.getByTestId('goal-measure').selectOption('adherence');
  await page.getByTestId('goal-target').fill('0.9');
  await page.getByTestId('goal-save').click();
  await page.getByTestId(`goal-row-${made}`).waitFor();
  const chip = page.getByTestId(`goal-report-agent-${a}-${made}`);
  await chip.waitFor();
  assert.equal(await chip.getAttribute('data-level'), 'met');
  const stored = (await api('GET', '/v1/goals')).goals.find((g) => g.measure === 'adherence' && g.target === 0.9 && JSON.stringify(g).includes(a));
  assert.ok(stored, 'the goal is stored');

  // Removing one asks first.
  await page.getByTestId(`goal-delete-${goals.none}`).click();
  await page.getByTestId('goal-delete-dialog-ok').click();
  await page.getByTestId(`goal-row-${goals.none}`).waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId(`goal-report-agent-${a}-${goals.none}`).count(), 0);
  assert.ok(!(await api('GET', '/v1/goals')).goals.some((g) => g.id === goals.none));
  assert.deepEqual(b.errors, []);
});
