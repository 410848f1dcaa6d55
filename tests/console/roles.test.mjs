// What each role sees: viewers and agents get no Plugins or Audit pages
// (not in the menu, and refused when opened by address); a partner gets
// Plugins to read, without the activate and roll back buttons.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, signIn, tokenFor, agent, uniq, screenshot } from './helpers.mjs';

async function navIds(page) {
  return page.getByTestId('nav').locator('a').evaluateAll((as) => as.map((a) => a.dataset.testid.replace('nav-', '')));
}

test('viewer and agent tokens do not see the admin pages', async (t) => {
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  const cases = [
    ['viewer', await tokenFor('viewer'), ['floor', 'kpis', 'incidents', 'report']],
    ['agent', await tokenFor('agent', await agent(uniq('console-role'))), ['floor', 'kpis', 'drafts', 'escalations', 'incidents', 'report']],
  ];
  for (const [role, token, expected] of cases) {
    await signIn(page, token, '#/floor');
    assert.equal(await page.getByTestId('who-role').textContent(), role);
    assert.deepEqual(await navIds(page), expected, `${role} menu`);
    // The floor works for both (a viewer may not list contacts: no error for that).
    await page.locator('[data-testid="view-floor"][data-ready]').waitFor();
    await page.locator('[data-testid="floor-live"][data-state="live"]').waitFor();
    await page.getByTestId('floor-agents').waitFor();
    assert.equal(await page.getByTestId('floor-error').textContent(), '');
    for (const view of ['plugins', 'audit', 'whatif']) {
      await page.goto(page.url().replace(/#.*$/, `#/${view}`));
      await page.getByTestId('forbidden').waitFor();
      assert.equal(await page.getByTestId(`view-${view}`).count(), 0);
      if (role === 'viewer' && view === 'plugins') await screenshot(page, 'viewer-forbidden');
    }
    await page.getByTestId('signout').click();
    await page.getByTestId('signin-form').waitFor();
  }
  assert.deepEqual(b.errors, []);
});

test('a partner reads plugins but cannot activate or roll back', async (t) => {
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, await tokenFor('partner'), '#/plugins');
  assert.deepEqual(await navIds(page), ['plugins']);
  await page.getByTestId('slots-table').waitFor();
  await page.getByTestId('versions-table').waitFor();
  assert.equal(await page.locator('[data-testid^="slot-rollback-"], [data-testid^="slot-configure-"]').count(), 0);
  assert.deepEqual(b.errors, []);
});

test('an operator sees every view', async (t) => {
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, await tokenFor('operator'), '#/audit');
  assert.deepEqual(await navIds(page), ['floor', 'kpis', 'drafts', 'escalations', 'incidents', 'report', 'plugins', 'audit', 'whatif']);
  await page.locator('[data-testid="audit-verify"][data-state="intact"]').waitFor();
  assert.deepEqual(b.errors, []);
});
