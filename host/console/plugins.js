// Plugins: what each slot runs (version, digest, config, call counts) and
// every uploaded version. Admins and operators activate a version with a
// config edited in a form built from the plugin's JSON Schema (the server
// validates; its errors are shown at the field they name) and roll a slot
// back, each after a confirmation dialog. Partners read. Call counts follow
// the live stream (re-read at most every 2 s while contacts change).

import { h, fill, field, table, fmtTime, announce, confirmDialog, throttle } from './dom.js';
import { api, can, stream, configViolations } from './api.js';
import { schemaForm } from './schemaform.js';

const short = (digest) => (digest ? digest.replace(/^sha256:/, '').slice(0, 12) : '—');
const name = (v) => (v ? `${v.plugin}@${v.version}` : 'nothing');

export async function render(root, { me, title }) {
  const manage = can(me, 'ActivatePlugins');
  const slotsEl = h('div', {});
  const editorEl = h('div', {});
  const versionsEl = h('div', {});
  const logEl = h('div', {});
  const errorEl = h('p', { class: 'error', role: 'alert' });
  fill(root,
    h('div', { class: 'title-row' }, h('h1', { tabindex: '-1' }, title),
      h('button', { type: 'button', 'data-testid': 'plugins-refresh', onclick: () => load() }, 'Refresh')),
    errorEl, h('h2', {}, 'Slots'), slotsEl, editorEl, h('h2', {}, 'Uploaded versions'), versionsEl, logEl);

  let versions = [];
  let slots = [];
  const digestOf = (v) => v && versions.find((x) => x.id === v.plugin && x.version === v.version)?.digest;

  async function load() {
    try {
      const [p, s] = await Promise.all([api('GET', '/v1/plugins'), api('GET', '/v1/slots')]);
      versions = p.versions;
      slots = s.slots;
      renderSlots();
      renderVersions();
      errorEl.textContent = '';
    } catch (e) {
      errorEl.textContent = `Could not load plugins: ${e.message}`;
    }
  }

  async function loadStats() {
    try {
      slots = (await api('GET', '/v1/slots')).slots;
      renderSlots();
    } catch {
      /* the next change tries again */
    }
  }

  function renderSlots() {
    fill(slotsEl, table({
      testid: 'slots-table',
      columns: [
        { label: 'Slot', cell: (s) => h('strong', {}, s.slot) },
        { label: 'Kind', cell: (s) => s.kind },
        {
          label: 'Runs',
          cell: (s) => h('span', {},
            h('span', { 'data-testid': `slot-current-${s.slot}` }, s.current ? name(s.current) : 'nothing (deactivated)'),
            // A quarantined version is not called; the slot's fail policy answers until a version is activated.
            s.quarantined ? [' ', h('span', {
              class: 'chip bad', 'data-testid': `slot-quarantined-${s.slot}`,
              title: `Since ${fmtTime(s.quarantined.since)} after ${s.quarantined.consecutive_failures} failures in a row: ${s.quarantined.reason}. Activate a version to resume.`,
            }, `QUARANTINED ${s.quarantined.plugin}@${s.quarantined.version}`)] : null,
            // Shadow mode: a candidate beside the live version, never applied.
            s.shadow ? [' ', h('span', {
              class: `chip ${s.shadow.agreement === null ? 'none' : s.shadow.agreement >= 0.99 ? 'ok' : 'warn'}`,
              'data-testid': `slot-shadow-${s.slot}`,
              'data-agreement': s.shadow.agreement ?? '',
              title: `${s.shadow.compared} decisions compared, ${s.shadow.disagreed} differ`
                + (s.shadow.differences.length ? ` (most at ${s.shadow.differences[0].path})` : '')
                + `; ${s.shadow.offered} offered, ${s.shadow.dropped} dropped. Promote or stop: switchboard plugin shadow ${s.slot} --promote | --stop.`,
            }, `shadow ${name(s.shadow.candidate)}: `
              + (s.shadow.agreement === null ? 'no data yet' : `${(100 * s.shadow.agreement).toFixed(1)}% agree`))] : null),
        },
        { label: 'Digest', cell: (s) => h('code', { title: digestOf(s.current) || '' }, short(digestOf(s.current))) },
        { label: 'Activated', cell: (s) => (s.current ? `${fmtTime(s.current.activated_at)} by ${s.current.activated_by}` : '—') },
        { label: 'Previous', cell: (s) => h('span', { 'data-testid': `slot-previous-${s.slot}` }, s.previous ? name(s.previous) : '—') },
        { label: 'Calls', num: true, cell: (s) => h('span', { 'data-testid': `slot-calls-${s.slot}` }, s.stats?.calls ?? '—') },
        { label: 'Failures', num: true, cell: (s) => h('span', { class: s.stats?.failures ? 'error' : null }, s.stats?.failures ?? '—') },
        {
          label: 'Actions',
          cell: (s) => h('span', { class: 'inline-actions' },
            manage ? h('button', { type: 'button', 'data-testid': `slot-configure-${s.slot}`, onclick: () => openEditor(s) }, 'Configure…') : null,
            manage ? h('button', {
              type: 'button', 'data-testid': `slot-rollback-${s.slot}`, disabled: !s.previous,
              title: s.previous ? `Put ${name(s.previous)} back` : 'No previous version to roll back to', onclick: () => rollback(s),
            }, 'Roll back…') : null,
            s.current ? h('button', { type: 'button', class: 'link', onclick: () => showLog(s.current.plugin, s.current.version) }, 'log') : null),
        },
      ],
      rows: slots,
      rowTestid: (s) => `slot-${s.slot}`,
      empty: 'No slots.',
    }));
  }

  function renderVersions() {
    const inUse = (v) => slots.filter((s) => [s.current, s.previous].some((x) => x && x.plugin === v.id && x.version === v.version)).map((s) => s.slot);
    fill(versionsEl, table({
      testid: 'versions-table',
      columns: [
        { label: 'Plugin', cell: (v) => v.id },
        { label: 'Version', cell: (v) => v.version },
        { label: 'Kind', cell: (v) => v.kind },
        { label: 'Digest', cell: (v) => h('code', { title: v.digest }, short(v.digest)) },
        { label: 'Size', num: true, cell: (v) => `${(v.size_bytes / 1024).toFixed(0)} KiB` },
        { label: 'Uploaded', cell: (v) => `${fmtTime(v.uploaded_at)} by ${v.uploaded_by}` },
        { label: 'Slots', cell: (v) => inUse(v).join(', ') || '—' },
        { label: 'Log', cell: (v) => h('button', { type: 'button', class: 'link', 'data-testid': `version-log-${v.id}-${v.version}`, onclick: () => showLog(v.id, v.version) }, 'show log') },
      ],
      rows: versions,
      rowTestid: (v) => `version-${v.id}-${v.version}`,
    }));
  }

  async function rollback(s) {
    const ok = await confirmDialog({
      title: `Roll back slot ${s.slot}?`,
      body: [h('p', {}, `It runs ${name(s.current)}; ${name(s.previous)} goes back in, with the config it had.`),
        changes(s.current?.config, s.previous?.config),
        h('p', { class: 'muted' }, 'Calls already running finish on the current version.')],
      confirm: 'Roll back', danger: true, testid: 'rollback-dialog',
    });
    if (!ok) return;
    try {
      const done = await api('POST', `/v1/slots/${encodeURIComponent(s.slot)}/rollback`);
      announce(`Slot ${s.slot} rolled back: it runs ${name(done.slot.current)} (swap ${done.swap_us} µs, audit #${done.audit_seq}).`, 'ok');
    } catch (e) {
      announce(`Rollback refused: ${e.message}`, 'error');
    }
    await load();
  }

  function openEditor(s) {
    const kindVersions = versions.filter((v) => v.kind === s.kind);
    const versionSel = h('select', { 'data-testid': 'config-version' },
      kindVersions.map((v) => h('option', { value: `${v.id}@${v.version}`, selected: s.current && v.id === s.current.plugin && v.version === s.current.version }, `${v.id}@${v.version}`)));
    const formEl = h('div', {});
    const rootErr = h('div', { class: 'field-error', 'data-testid': 'config-error-root', role: 'alert' });
    let editor = null;
    const build = (useCurrent) => {
      const v = kindVersions.find((x) => `${x.id}@${x.version}` === versionSel.value);
      if (!v) return;
      const same = s.current && s.current.plugin === v.id;
      const config = useCurrent && same ? s.current.config : v.manifest.default_config ?? {};
      editor = schemaForm(v.manifest.config_schema ?? {}, config);
      fill(formEl, editor.el);
      rootErr.textContent = '';
    };
    versionSel.addEventListener('change', () => build(true));
    const panel = h('form', { class: 'panel', 'data-testid': 'config-editor', 'aria-labelledby': 'editor-title' },
      h('h2', { id: 'editor-title', tabindex: '-1' }, `Configure slot ${s.slot}`),
      field('Version', versionSel, 'Versions of this kind that were uploaded.'),
      formEl, rootErr,
      h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: () => fill(editorEl) }, 'Close'),
        h('button', { type: 'button', 'data-testid': 'config-defaults', onclick: () => build(false) }, 'Use the defaults'),
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'config-activate' }, 'Activate…')));
    panel.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      rootErr.textContent = '';
      const config = editor.collect();
      if (!config) return;
      const [plugin, version] = versionSel.value.split('@');
      const ok = await confirmDialog({
        title: `Activate ${plugin}@${version} in slot ${s.slot}?`,
        body: [h('p', {}, `It replaces ${name(s.current)}, which becomes the version to roll back to.`),
          changes(s.current?.config, config),
          h('p', { class: 'muted' }, 'Calls already running finish on the old version; the new one is watched and rolled back by itself if half its first calls fail.')],
        confirm: 'Activate', testid: 'activate-dialog',
      });
      if (!ok) return;
      try {
        const done = await api('POST', `/v1/slots/${encodeURIComponent(s.slot)}/activate`, { plugin, version, config });
        announce(`Slot ${s.slot} runs ${name(done.slot.current)} (swap ${done.swap_us} µs, audit #${done.audit_seq}).`, 'ok');
        fill(editorEl);
        await load();
      } catch (e) {
        const vs = e.status === 422 ? configViolations(e) : [];
        if (vs.length) {
          const left = editor.showErrors(vs);
          rootErr.textContent = left.length ? left.map((x) => x.message).join('; ') : 'The configuration was refused: see the fields marked above.';
          editor.focusFirstError();
        } else {
          rootErr.textContent = e.message;
        }
      }
    });
    build(true);
    fill(editorEl, panel);
    panel.querySelector('h2').focus();
  }

  async function showLog(id, version) {
    fill(logEl, h('h2', { tabindex: '-1' }, `Log of ${id}@${version}`), h('p', { class: 'muted' }, 'Loading…'));
    try {
      const log = await api('GET', `/v1/plugins/${encodeURIComponent(id)}/${encodeURIComponent(version)}/log`);
      fill(logEl, h('h2', { tabindex: '-1' }, `Log of ${id}@${version}`),
        h('p', { class: 'muted' }, `${log.written} lines written, ${log.dropped} dropped (the buffer keeps the latest).`,
          ' ', h('button', { type: 'button', class: 'link', onclick: () => showLog(id, version) }, 'reload')),
        h('pre', { class: 'log', 'data-testid': 'plugin-log', tabindex: '0' },
          log.lines.length ? log.lines.map((l) => `${logTime(l.at)} ${String(l.level).toUpperCase()} [${l.source}] ${l.message}\n`) : '(empty)'));
    } catch (e) {
      fill(logEl, h('p', { class: 'error' }, `Could not read the log: ${e.message}`));
    }
    logEl.querySelector('h2')?.focus();
  }

  const refreshStats = throttle(loadStats, 2000);
  const stop = can(me, 'ReadFloor')
    ? stream({ onEvent: (n) => (n === 'contact' || n === 'lagged') && refreshStats() })
    : () => {};
  await load();
  return stop;
}

function logTime(at) {
  const ms = typeof at === 'number' ? at : at && typeof at === 'object' ? at.secs_since_epoch * 1000 + Math.floor((at.nanos_since_epoch || 0) / 1e6) : null;
  return ms === null ? '' : fmtTime(ms);
}

/** The top-level keys whose values differ between two configs. */
function changes(before, after) {
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])]
    .filter((k) => JSON.stringify(before?.[k]) !== JSON.stringify(after?.[k]));
  if (!keys.length) return h('p', {}, 'The configuration does not change.');
  return h('div', {}, h('p', {}, 'Configuration changes:'),
    h('ul', { 'data-testid': 'config-changes' }, keys.map((k) => h('li', {}, h('code', {}, k), `: ${JSON.stringify(before?.[k]) ?? '(unset)'} → ${JSON.stringify(after?.[k]) ?? '(unset)'}`))));
}
