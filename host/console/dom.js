// Small DOM helpers. Everything that comes from the API is put in the page
// with textContent (via h), never parsed as HTML: contact texts and plugin
// logs are written by customers and partners.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Create an element: h('button', {onclick, 'data-testid': 'x'}, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const svg = tag.startsWith('svg:');
  const el = svg ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'value' && !svg) el.value = v;
    else if (k === 'checked' || k === 'selected') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A table: columns [{label, cell: row => node|string, num?}], rows. */
export function table({ caption, columns, rows, testid, rowTestid, empty = 'Nothing to show.' }) {
  const body = rows.length
    ? rows.map((r, i) =>
        h('tr', { 'data-testid': rowTestid ? rowTestid(r, i) : null },
          columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.cell(r, i)))))
    : [h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, empty))];
  return h('div', { class: 'table-wrap' },
    h('table', { 'data-testid': testid },
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
      h('tbody', {}, body)));
}

/** A labelled form field; `control` is an input/select/textarea element. */
export function field(label, control, hint) {
  const id = control.id || (control.id = uid('f'));
  const hintEl = hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

let seq = 0;
export function uid(prefix) {
  seq += 1;
  return `${prefix}-${seq}`;
}

const pad = (n) => String(n).padStart(2, '0');

/** Local date and time, e.g. 2026-11-23 14:05:09. */
export function fmtTime(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  return `${fmtDay(d)} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local calendar day, e.g. 2026-11-23. */
export function fmtDay(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** A duration in seconds as 1d 2h 3m 4s (the largest `units` units). */
export function fmtDuration(secs, units = 2) {
  const s = Math.max(0, Math.round(secs));
  const parts = [[Math.floor(s / 86400), 'd'], [Math.floor(s / 3600) % 24, 'h'], [Math.floor(s / 60) % 60, 'm'], [s % 60, 's']];
  const first = parts.findIndex(([n]) => n > 0);
  if (first < 0) return '0s';
  return parts.slice(first, first + units).map(([n, u]) => `${n}${u}`).join(' ');
}

/** A KPI value for people (the exact number is shown alongside). */
export function fmtValue(v, unit) {
  if (v === null || v === undefined) return 'no data';
  if (unit === 'ratio') return `${(v * 100).toFixed(1)}%`;
  if (unit === 'seconds') return `${v.toFixed(1)} s`;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/** `<input type=datetime-local>` value for a time in ms, and back. */
export function toLocalInput(ms) {
  const d = new Date(ms);
  return `${fmtDay(d)}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
export function fromLocalInput(s) {
  const t = new Date(s).getTime();
  return Number.isFinite(t) ? t : null;
}

/**
 * Ask for confirmation in a modal <dialog>. Resolves to true (confirmed) or
 * false. `body` may be nodes. Focus returns to the opener.
 */
export function confirmDialog({ title, body, confirm = 'Confirm', danger = false, testid = 'confirm-dialog' }) {
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const dlg = h('dialog', { 'data-testid': testid, 'aria-labelledby': titleId },
      h('form', { method: 'dialog' },
        h('h2', { id: titleId }, title),
        h('div', { class: 'dialog-body' }, body),
        h('div', { class: 'actions' },
          h('button', { value: 'cancel', 'data-testid': `${testid}-cancel` }, 'Cancel'),
          h('button', { value: 'ok', class: danger ? 'danger' : 'primary', 'data-testid': `${testid}-ok` }, confirm))));
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(dlg.returnValue === 'ok');
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/** Say something to screen readers and show it in the status bar. */
export function announce(text, kind = 'info') {
  const el = document.getElementById('status');
  if (!el) return;
  el.className = `status ${kind}`;
  el.textContent = text;
}

/** Call `fn` at most once per `ms`, with the latest arguments, trailing. */
export function throttle(fn, ms) {
  let timer = null;
  let last = 0;
  return (...args) => {
    const wait = last + ms - Date.now();
    if (timer) return;
    if (wait <= 0) {
      last = Date.now();
      fn(...args);
      return;
    }
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      fn(...args);
    }, wait);
  };
}
