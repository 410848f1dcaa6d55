// Plugins: activate a new configuration of a slot from the schema form
// (after a confirmation dialog), see the server's validation errors at the
// field they name, and roll the slot back to what it ran before.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, signIn, api, uniq, screenshot } from './helpers.mjs';

const SLOT = 'brand-compliance';
const slot = async () => (await api('GET', '/v1/slots')).slots.find((s) => s.slot === SLOT);

test('activate a new config, see field errors, and roll the slot back', async (t) => {
  const before = await slot();
  assert.ok(before?.current, `the bundled ${SLOT} slot is active`);
  t.after(async () => {
    // Leave the slot as found, whatever failed.
    const now = await slot();
    if (JSON.stringify(now.current) !== JSON.stringify(before.current)) {
      await api('POST', `/v1/slots/${SLOT}/activate`, { plugin: before.current.plugin, version: before.current.version, config: before.current.config });
    }
  });
  const b = await browser();
  t.after(() => b.close());
  const { page } = b;
  await signIn(page, undefined, '#/plugins');
  await page.getByTestId(`slot-${SLOT}`).waitFor();
  await screenshot(page, 'plugins');

  // A config the schema refuses: the error lands at the field.
  await page.getByTestId(`slot-configure-${SLOT}`).click();
  await page.getByTestId('config-field-discouraged_phrases').fill('[{"phrase": "kindly"}]');
  await page.getByTestId('config-activate').click();
  await page.getByTestId('activate-dialog-ok').click();
  const fieldError = page.getByTestId('config-error-discouraged_phrases');
  await fieldError.filter({ hasText: 'suggestion' }).waitFor();
  assert.match(await fieldError.textContent(), /item 1: "suggestion" is a required property/);
  assert.equal(await page.getByTestId('config-field-discouraged_phrases').getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'plugin-config-errors');
  assert.deepEqual((await slot()).current, before.current, 'nothing was activated');

  // A valid change, confirmed in the dialog.
  await page.getByTestId('config-defaults').click();
  const phrase = uniq('never say');
  const banned = page.getByTestId('config-field-banned_phrases');
  await banned.fill(`${await banned.inputValue()}\n${phrase}`);
  await page.getByTestId('config-activate').click();
  const dialog = page.getByTestId('activate-dialog');
  await dialog.getByTestId('config-changes').filter({ hasText: phrase }).waitFor();
  await page.getByTestId('activate-dialog-ok').click();
  await page.getByTestId('config-editor').waitFor({ state: 'detached' });
  const activated = await slot();
  assert.ok(activated.current.config.banned_phrases.includes(phrase));
  assert.deepEqual(activated.previous.config, before.current.config);
  await page.getByTestId(`slot-previous-${SLOT}`).filter({ hasText: `${before.current.plugin}@${before.current.version}` }).waitFor();

  // Roll back: cancelling changes nothing; confirming puts the old config back.
  await page.getByTestId(`slot-rollback-${SLOT}`).click();
  await page.getByTestId('rollback-dialog-cancel').click();
  await page.getByTestId('rollback-dialog').waitFor({ state: 'detached' });
  assert.ok((await slot()).current.config.banned_phrases.includes(phrase));

  await page.getByTestId(`slot-rollback-${SLOT}`).click();
  await page.getByTestId('rollback-dialog-ok').click();
  await page.getByTestId('status').filter({ hasText: `Slot ${SLOT} rolled back` }).waitFor();
  const rolled = await slot();
  assert.deepEqual(rolled.current.config, before.current.config);
  assert.ok(rolled.previous.config.banned_phrases.includes(phrase));
  const audit = await api('GET', `/v1/audit?subject=${SLOT}&kind=plugin.rollback&limit=1000`);
  assert.ok(audit.records.length > 0, 'the rollback is audited');
  assert.deepEqual(b.errors, []);
});
