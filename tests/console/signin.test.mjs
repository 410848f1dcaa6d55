// Signing in with a pasted token, staying signed in across a reload (the
// token lives in sessionStorage), refusing a bad token, signing out.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, signIn, screenshot, CONSOLE, ADMIN } from './helpers.mjs';

test('sign in, reload, sign out', async (t) => {
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;

  await page.goto(CONSOLE);
  await page.getByTestId('signin-token').fill('sb_00000000_not-a-real-token');
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('signin-error').filter({ hasText: 'does not accept' }).waitFor();
  await screenshot(page, 'signin');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);

  await signIn(page, ADMIN);
  assert.equal(await page.getByTestId('who-role').textContent(), 'admin');
  await page.getByTestId('view-floor').waitFor();
  for (const v of ['floor', 'kpis', 'drafts', 'escalations', 'incidents', 'report', 'plugins', 'audit']) {
    await page.getByTestId(`nav-${v}`).waitFor();
  }
  assert.equal(await page.evaluate(() => sessionStorage.getItem('switchboard.token')), ADMIN);

  await page.reload();
  await page.getByTestId('who-role').waitFor();
  await page.getByTestId('view-floor').waitFor();

  await page.getByTestId('signout').click();
  await page.getByTestId('signin-form').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('switchboard.token')), null);
  assert.equal(await page.getByTestId('nav').locator('a').count(), 0);
  assert.deepEqual(b.errors, []);
});
