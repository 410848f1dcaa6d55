// Accessibility and weight checks on every view: each form control has a
// label, the views can be reached with the keyboard alone (skip link,
// menu, visible focus), and the console's assets stay under 128 KB.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, signIn, CONSOLE, ADMIN } from './helpers.mjs';

const VIEWS = ['floor', 'kpis', 'drafts', 'escalations', 'incidents', 'report', 'plugins', 'audit'];

test('every control is labelled and every view has one h1', async (t) => {
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, ADMIN, '#/floor');
  for (const v of VIEWS) {
    await page.getByTestId(`nav-${v}`).click();
    await page.locator(`[data-testid="view-${v}"][data-ready]`).waitFor();
    assert.equal(await page.locator('main h1').count(), 1, `${v}: one h1`);
    const unlabelled = await page.locator('main input, main select, main textarea').evaluateAll((els) =>
      els.filter((e) => !e.labels?.length && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')).map((e) => e.outerHTML));
    assert.deepEqual(unlabelled, [], `${v}: every control has a label`);
    assert.equal(await page.getByTestId(`nav-${v}`).getAttribute('aria-current'), 'page');
  }
  assert.deepEqual(b.errors, []);
});

test('keyboard only: sign in, skip link, menu, visible focus', async (t) => {
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await page.goto(CONSOLE);
  await page.getByTestId('signin-token').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'signin-token', 'the token field has focus');
  await page.keyboard.type(ADMIN);
  await page.keyboard.press('Enter');
  await page.getByTestId('view-floor').waitFor();

  // Clicking the (not focusable) name in the header puts the keyboard's
  // starting point there: the skip link is just before it, the menu after.
  const focused = () => page.evaluate(() => document.activeElement?.dataset.testid);
  await page.locator('.brand').click();
  await page.keyboard.press('Shift+Tab');
  assert.equal(await focused(), 'skip-link');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'focus is visible');
  await page.keyboard.press('Enter');
  assert.equal(await focused(), 'main');

  await page.locator('.brand').click();
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'nav-floor');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'nav-kpis');
  await page.keyboard.press('Enter');
  await page.getByTestId('view-kpis').waitFor();
  assert.match(page.url(), /#\/kpis/);
  assert.deepEqual(b.errors, []);
});

test('the console loads under 128 KB', async (t) => {
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  const sizes = new Map();
  page.on('response', async (res) => {
    if (new URL(res.url()).pathname.includes('/console/')) sizes.set(res.url(), (await res.body()).length);
  });
  const total = () => [...sizes.values()].reduce((a, n) => a + n, 0);
  // First load: the sign-in page, then the floor.
  await signIn(page, ADMIN, '#/floor');
  await page.locator('[data-testid="view-floor"][data-ready]').waitFor();
  const first = total();
  for (const v of VIEWS) {
    await page.getByTestId(`nav-${v}`).click();
    await page.locator(`[data-testid="view-${v}"][data-ready]`).waitFor();
  }
  assert.ok(sizes.size >= 17, `all modules were fetched (${sizes.size})`);
  assert.ok(first < 50 * 1024, `sign-in and floor weigh ${first} bytes`);
  assert.ok(total() < 128 * 1024, `all assets weigh ${total()} bytes`);
  t.diagnostic(`console assets: first load ${first} B, all views ${total()} B in ${sizes.size} files`);
});
