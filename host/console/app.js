// The console shell: sign-in with a bearer token, the views the token's
// role may see, and hash routing (#/floor, #/kpis?measure=csat, ...).
// Each view is a module loaded on first use, exporting
// render(root, ctx) -> cleanup function.

import { h, fill, announce } from './dom.js';
import { token, whoami, can, whenUnauthorized } from './api.js';

const VIEWS = [
  { id: 'floor', title: () => 'Live floor', allowed: (w) => can(w, 'ReadFloor') },
  { id: 'kpis', title: () => 'KPIs', allowed: (w) => can(w, 'ReadFloor') },
  {
    id: 'drafts',
    title: (w) => (can(w, 'ApproveDrafts') ? 'Approvals' : 'My drafts'),
    allowed: (w) => can(w, 'ApproveDrafts') || can(w, 'ReadContacts'),
  },
  { id: 'escalations', title: () => 'Escalations', allowed: (w) => can(w, 'ReadContacts') && can(w, 'ReadFloor') },
  { id: 'incidents', title: () => 'Incidents', allowed: (w) => can(w, 'ReadFloor') },
  { id: 'report', title: () => 'Agent report', allowed: (w) => can(w, 'ReadFloor') },
  { id: 'plugins', title: () => 'Plugins', allowed: (w) => can(w, 'ReadPlugins') },
  { id: 'audit', title: () => 'Audit', allowed: (w) => can(w, 'ReadAudit') },
  { id: 'whatif', title: () => 'What-if', allowed: (w) => can(w, 'ActivatePlugins') },
  // Opened from links (floor, escalations, drafts), not from the menu.
  { id: 'contact', title: () => 'Contact', allowed: (w) => can(w, 'ReadContacts'), hidden: true },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
let me = null;
let cleanup = null;
let renderSeq = 0;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [id, query = ''] = raw.split('?');
  return { id, params: new URLSearchParams(query) };
}

/** Go to a view, e.g. navigate('audit', {subject: 'c-1'}). */
export function navigate(id, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v != null)).toString();
  const hash = `#/${id}${q ? `?${q}` : ''}`;
  if (location.hash === hash) route();
  else location.hash = hash;
}

function stopView() {
  if (cleanup) {
    try {
      cleanup();
    } catch {
      /* a view that fails to clean up must not block the next one */
    }
  }
  cleanup = null;
}

function signOut(message) {
  stopView();
  token.clear();
  me = null;
  renderSignIn(message);
}

whenUnauthorized(() => signOut('The server no longer accepts this token (revoked or unknown). Sign in again.'));

function renderShell() {
  const { id } = parseHash();
  fill(nav, h('ul', {},
    VIEWS.filter((v) => !v.hidden && v.allowed(me)).map((v) =>
      h('li', {}, h('a', {
        href: `#/${v.id}`,
        'data-testid': `nav-${v.id}`,
        'aria-current': v.id === id ? 'page' : null,
      }, v.title(me))))));
  fill(who,
    h('span', { 'data-testid': 'who-role', class: `role role-${me.role}` }, me.role),
    me.agent_id ? h('span', { class: 'muted' }, ` as ${me.agent_id}`) : null,
    me.id ? h('span', { class: 'muted' }, ` · token ${me.id}`) : null,
    h('button', { type: 'button', class: 'link', 'data-testid': 'signout', onclick: () => signOut('Signed out.') }, 'Sign out'));
}

function renderSignIn(message) {
  nav.replaceChildren();
  who.replaceChildren();
  document.title = 'Sign in · switchboard';
  const input = h('input', {
    id: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true,
    'data-testid': 'signin-token', 'aria-describedby': 'token-hint signin-error',
  });
  const error = h('p', { id: 'signin-error', class: 'error', 'data-testid': 'signin-error', 'aria-live': 'assertive' }, message && !/^Signed out/.test(message) ? message : '');
  const form = h('form', { class: 'signin', 'data-testid': 'signin-form' },
    h('h1', { tabindex: '-1' }, 'Sign in to the switchboard console'),
    h('div', { class: 'field' },
      h('label', { for: 'token' }, 'API token'),
      input,
      h('span', { class: 'hint', id: 'token-hint' },
        'Paste a bearer token (sb_…). It is kept in this browser tab only (sessionStorage) until you sign out or close the tab.')),
    error,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'signin-submit' }, 'Sign in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = input.value.trim();
    error.textContent = '';
    try {
      const found = await whoami(t);
      token.set(t);
      me = found;
      announce(`Signed in as ${me.role}.`);
      route();
    } catch (e) {
      error.textContent = e.status === 401 ? 'The server does not accept this token.' : `Could not sign in: ${e.message}`;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
  });
  fill(main, form);
  if (message) announce(message);
  input.focus();
}

async function route() {
  const seq = (renderSeq += 1);
  if (!token.get()) return renderSignIn();
  if (!me) {
    try {
      me = await whoami(token.get());
    } catch (e) {
      if (e.status === 401) return signOut('The server no longer accepts this token. Sign in again.');
      fill(main, h('p', { class: 'error' }, `Cannot reach the server: ${e.message}`));
      return undefined;
    }
    if (seq !== renderSeq) return undefined;
  }
  const allowed = VIEWS.filter((v) => !v.hidden && v.allowed(me));
  const { id, params } = parseHash();
  const view = VIEWS.find((v) => v.id === id);
  if (!view) {
    if (allowed.length) return navigate(allowed[0].id);
  }
  stopView();
  renderShell();
  if (!view || !view.allowed(me)) {
    document.title = 'Not available · switchboard';
    fill(main, h('section', { 'data-testid': 'forbidden' },
      h('h1', { tabindex: '-1' }, 'Not available'),
      h('p', {}, view
        ? `A ${me.role} token may not open “${view.title(me)}”. Ask an admin for a token with a role that may.`
        : `A ${me.role} token has no console views.`)));
    main.querySelector('h1').focus();
    return undefined;
  }
  document.title = `${view.title(me)} · switchboard`;
  const root = h('section', { class: `view view-${view.id}`, 'data-testid': `view-${view.id}` });
  fill(main, root);
  try {
    const mod = await import(`./${view.id}.js`);
    if (seq !== renderSeq) return undefined;
    const ctx = { me, params, navigate, title: view.title(me) };
    cleanup = (await mod.render(root, ctx)) || null;
    if (seq !== renderSeq) stopView();
  } catch (e) {
    if (seq !== renderSeq) return undefined;
    root.append(h('p', { class: 'error', 'data-testid': 'view-error' }, `This view failed: ${e.message}`));
  }
  // Tests wait for this: the view has rendered its first data (or failed).
  root.dataset.ready = 'true';
  const h1 = root.querySelector('h1');
  if (h1 && !main.contains(document.activeElement)) h1.focus();
  return undefined;
}

document.querySelector('.skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', route);
route();
