// The switchboard HTTP API as the console uses it: the bearer token (kept
// in sessionStorage), JSON requests with problem+json errors, who the token
// is, and the Server-Sent Events stream read with fetch (EventSource cannot
// send an Authorization header).

const KEY = 'switchboard.token';

/** What each role may do (mirrors host/src/auth.rs `Role::allows`). */
const ROLES = {
  admin: ['WriteContacts', 'ReadContacts', 'ManageFloor', 'ReadFloor', 'UploadPlugins', 'ActivatePlugins',
    'ReadPlugins', 'ReadAudit', 'ApproveDrafts', 'ManageTokens'],
  operator: ['ReadContacts', 'ManageFloor', 'ReadFloor', 'ActivatePlugins', 'ReadPlugins', 'ReadAudit', 'ApproveDrafts'],
  partner: ['UploadPlugins', 'ReadPlugins'],
  agent: ['WriteContacts', 'ReadContacts', 'ReadFloor'],
  viewer: ['ReadFloor'],
};

export const can = (who, action) => Boolean(who && ROLES[who.role]?.includes(action));

/** An error answer: `status`, problem `kind` and the server's `message`. */
export class ApiError extends Error {
  constructor(status, kind, message, body) {
    super(message);
    this.status = status;
    this.kind = kind;
    this.body = body;
  }
}

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

let onUnauthorized = () => {};
/** Called when the server refuses the token (revoked, unknown). */
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

/** `api('GET', '/v1/queues')`, `api('POST', path, body)`; resolves to JSON (null on 204). */
export async function api(method, path, body, { tokenOverride, signal } = {}) {
  const t = tokenOverride ?? token.get();
  const headers = { accept: 'application/json' };
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `the server did not answer (${e.message})`);
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = new ApiError(res.status, json?.error || 'http', json?.message || json?.detail || text || res.statusText, json);
    if (res.status === 401 && !tokenOverride) onUnauthorized(err);
    throw err;
  }
  return json;
}

/** Build a query string from an object, leaving out empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/**
 * Who a token is: `{id, role, agent_id}`. Uses `GET /v1/whoami` when the
 * server has it; otherwise works the role out from `GET /v1/tokens` (200
 * only for admins) and the role the 403 names. `id`/`agent_id` are then
 * unknown (null).
 */
export async function whoami(t) {
  try {
    const me = await api('GET', '/v1/whoami', undefined, { tokenOverride: t });
    if (me && ROLES[me.role]) return { id: me.id ?? null, role: me.role, agent_id: me.agent_id ?? null };
  } catch (e) {
    if (e.status === 401) throw e;
    if (e.status !== 404 && e.status !== 405) throw e;
  }
  try {
    await api('GET', '/v1/tokens', undefined, { tokenOverride: t });
    return { id: null, role: 'admin', agent_id: null };
  } catch (e) {
    const role = e.status === 403 && /role `(\w+)`/.exec(e.message)?.[1];
    if (role && ROLES[role]) return { id: null, role, agent_id: null };
    throw e;
  }
}

/** Fetch every page of a list endpoint with `after`/`next_after` cursors. */
export async function allPages(path, params, key, { max = 10, signal } = {}) {
  const out = [];
  let after = params.after;
  for (let i = 0; i < max; i += 1) {
    const page = await api('GET', path + qs({ ...params, after }), undefined, { signal });
    out.push(...page[key]);
    if (page.next_after === null || page.next_after === undefined) return { items: out, complete: true };
    after = page.next_after;
  }
  return { items: out, complete: false };
}

/**
 * Follow `GET /v1/stream`: calls `onEvent(name, data)` for each event
 * (data parsed as JSON when it is JSON) and `onState('live'|'reconnecting')`.
 * Reconnects with backoff. Returns a function that stops it.
 */
export function stream({ onEvent, onState = () => {} }) {
  const ctl = new AbortController();
  let delay = 500;
  let opened = false;
  const run = async () => {
    while (!ctl.signal.aborted) {
      try {
        const res = await fetch('/v1/stream', {
          headers: { authorization: `Bearer ${token.get()}`, accept: 'text/event-stream' },
          signal: ctl.signal,
          cache: 'no-store',
        });
        if (res.status === 401) {
          onUnauthorized(new ApiError(401, 'unauthorized', 'the token is no longer valid'));
          return;
        }
        if (res.status === 403) {
          onState('forbidden');
          return;
        }
        if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
        onState('live');
        // After a reconnect, changes may have been missed: say so, like `lagged`.
        if (opened) onEvent('lagged', 'reconnected');
        opened = true;
        delay = 500;
        await readEvents(res.body, onEvent);
      } catch (e) {
        if (ctl.signal.aborted) return;
      }
      onState('reconnecting');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  };
  run();
  return () => ctl.abort();
}

/** Parse a text/event-stream body (WHATWG HTML, server-sent events). */
async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let name = '';
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let nl;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      if (nl === buf.length - 1 && buf[nl] === '\r') break; // maybe half of \r\n
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (data.length) {
          const text = data.join('\n');
          let parsed = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* plain text event */
          }
          onEvent(name || 'message', parsed);
        }
        name = '';
        data = [];
      } else if (!line.startsWith(':')) {
        const i = line.indexOf(':');
        const f = i < 0 ? line : line.slice(0, i);
        const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (f === 'event') name = v;
        else if (f === 'data') data.push(v);
      }
    }
  }
}

/**
 * Split the server's config errors ("... at `/banned_phrases/0`: msg; at
 * ``: msg") into [{pointer, message}]. Uses a structured `violations`
 * array when the problem carries one.
 */
export function configViolations(err) {
  const v = err.body?.violations;
  if (Array.isArray(v)) return v.map((x) => ({ pointer: x.pointer ?? '', message: x.message ?? '' }));
  const out = [];
  const re = /at `([^`]*)`: (.*?)(?=; at `|$)/gs;
  for (const m of err.message.matchAll(re)) out.push({ pointer: m[1], message: m[2] });
  return out;
}
