// Shared by the console's browser tests: the server under test (env
// SWITCHBOARD_URL, SWITCHBOARD_TOKEN with an admin token,
// SWITCHBOARD_CONSOLE_URL defaulting to ${SWITCHBOARD_URL}/console/), an API
// client, and Debian's Chromium driven by playwright-core.

import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`set ${name} (see docs/console.md: "Browser tests")`);
  return v;
};

export const BASE = need('SWITCHBOARD_URL').replace(/\/$/, '');
export const ADMIN = need('SWITCHBOARD_TOKEN');
export const CONSOLE = process.env.SWITCHBOARD_CONSOLE_URL || `${BASE}/console/`;
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/console');

/** A name no other test run uses. */
export const uniq = (prefix) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** Call the API; throws with the problem's message on an error status. */
export async function api(method, p, body, token = ADMIN) {
  const res = await fetch(BASE + p, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(`${method} ${p} -> ${res.status}: ${json?.message ?? text}`);
  return json;
}

/** A token of `role` (and bound to `agent_id`), created by the admin. */
export async function tokenFor(role, agentId) {
  const t = await api('POST', '/v1/tokens', { role, label: uniq(`console-test-${role}`), ...(agentId ? { agent_id: agentId } : {}) });
  return t.token;
}

/** An available agent with the given skills, languages and teams. */
export async function agent(id, { skills = { billing: 4 }, languages = ['en'], teams = ['console-team'], status = 'available' } = {}) {
  await api('PUT', `/v1/agents/${id}`, { id, name: `Test ${id}`, skills, languages, teams, capacity: { chat: 2, voice: 1, email: 3 }, status });
  return id;
}

/**
 * Chromium with a fresh profile; returns {context, page, close}. Launch
 * flags keep it offline apart from the server under test.
 */
export async function browser() {
  const dir = await mkdtemp(path.join(tmpdir(), 'sb-console-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1366, height: 768 },
  });
  context.setDefaultTimeout(15000);
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return {
    context,
    page,
    errors,
    async close() {
      await context.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Open the console at `hash` (e.g. '#/floor') signed in with `token`. */
export async function signIn(page, token = ADMIN, hash = '') {
  await page.goto(CONSOLE + hash);
  await page.getByTestId('signin-token').fill(token);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('who-role').waitFor();
}

/** Save a screenshot to docs/console/<name>.png when SCREENSHOTS=1. */
export async function screenshot(page, name) {
  if (process.env.SCREENSHOTS !== '1') return;
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/** A contact through the API; the created record, with `offered_to`. */
export async function contact(fields) {
  const got = await api('POST', '/v1/contacts', {
    channel: 'chat', customer_id: uniq('cust'), language: 'en', topics: ['billing'], text: 'hello', ...fields,
  });
  return { ...got.contact, offered_to: got.offered_to ?? null };
}

/**
 * A billing contact answered by an agent (one made for it when nobody was
 * free to be offered it); resolves to the answering agent's id.
 */
export async function answeredContact() {
  const a = await agent(uniq('console-kpi'), { skills: { billing: 5 } });
  const c = await contact({ topics: ['billing'], text: 'counted in the KPIs' });
  if (!c.offered_to) await api('POST', `/v1/contacts/${c.id}/events`, { type: 'offer', agent_id: a });
  const answered = await api('POST', `/v1/contacts/${c.id}/events`, { type: 'answer' });
  return answered.contact.agent_id;
}
