// A config editor built from a plugin's JSON Schema. The server is the
// judge (it validates against the full schema); this form only makes the
// common shapes easy to edit and puts the server's errors at their fields.

import { h, field } from './dom.js';

/**
 * A form for a config object from its JSON Schema: a checkbox per boolean,
 * a number or text input per number or string (a select for enums), a
 * textarea per list of strings (one per line) and a JSON textarea for
 * anything else. Returns {el, collect() -> config|null, showErrors(v) ->
 * violations not placed at a field, focusFirstError()}.
 */
export function schemaForm(schema, config) {
  const props = schema.properties || {};
  const keys = [...new Set([...Object.keys(props), ...Object.keys(config || {})])];
  const required = new Set(schema.required || []);
  const fields = new Map();
  const el = h('div', { class: 'schema-form' });
  if (!keys.length) {
    const ta = h('textarea', { rows: 6, class: 'mono', 'data-testid': 'config-json', value: JSON.stringify(config ?? {}, null, 2) });
    const err = h('span', { class: 'field-error', 'data-testid': 'config-error-' });
    fields.set('', { kind: 'json', input: ta, err, whole: true });
    el.append(field('Configuration (JSON)', ta), err);
  }
  for (const key of keys) {
    const s = props[key] || {};
    const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
    const value = config?.[key];
    const testid = `config-field-${key}`;
    let kind;
    let input;
    if (type === 'boolean') {
      kind = 'bool';
      input = h('input', { type: 'checkbox', checked: Boolean(value), 'data-testid': testid });
    } else if ((type === 'integer' || type === 'number') && !s.enum) {
      kind = 'number';
      input = h('input', { type: 'number', step: type === 'integer' ? 1 : 'any', value: value ?? '', min: s.minimum, max: s.maximum, 'data-testid': testid });
    } else if (type === 'string' && Array.isArray(s.enum)) {
      kind = 'string';
      input = h('select', { 'data-testid': testid }, s.enum.map((o) => h('option', { value: o, selected: o === value }, o)));
    } else if (type === 'string') {
      kind = 'string';
      input = h('input', { type: 'text', value: value ?? '', 'data-testid': testid });
    } else if (type === 'array' && s.items?.type === 'string') {
      kind = 'lines';
      input = h('textarea', { rows: Math.min(6, Math.max(2, (value || []).length + 1)), 'data-testid': testid, value: (value || []).join('\n') });
    } else {
      kind = 'json';
      input = h('textarea', { rows: Math.min(10, Math.max(3, JSON.stringify(value ?? null, null, 2).split('\n').length)), class: 'mono', 'data-testid': testid, value: value === undefined ? '' : JSON.stringify(value, null, 2) });
    }
    const err = h('span', { class: 'field-error', id: `cfg-err-${key}`, 'data-testid': `config-error-${key}`, 'aria-live': 'polite' });
    const hint = [s.description, kind === 'lines' ? 'One per line.' : kind === 'json' ? 'JSON.' : null].filter(Boolean).join(' ');
    const label = `${key}${required.has(key) ? ' (required)' : ''}`;
    const f = kind === 'bool'
      ? h('div', { class: 'field' }, h('label', {}, input, ` ${label}`), hint ? h('span', { class: 'hint' }, hint) : null)
      : field(label, input, hint || null);
    input.setAttribute('aria-describedby', [input.getAttribute('aria-describedby'), err.id].filter(Boolean).join(' '));
    f.append(err);
    el.append(f);
    fields.set(key, { kind, input, err, present: value !== undefined });
  }

  const clear = () => {
    for (const f of fields.values()) {
      f.err.textContent = '';
      f.input.removeAttribute('aria-invalid');
    }
  };
  const mark = (f, text) => {
    f.err.textContent = f.err.textContent ? `${f.err.textContent}; ${text}` : text;
    f.input.setAttribute('aria-invalid', 'true');
  };

  return {
    el,
    collect() {
      clear();
      const out = {};
      let ok = true;
      for (const [key, f] of fields) {
        const raw = f.kind === 'bool' ? f.input.checked : f.input.value;
        if (f.kind === 'bool') out[key] = raw;
        else if (f.kind === 'number') {
          if (raw !== '') out[key] = Number(raw);
        } else if (f.kind === 'string') {
          if (raw !== '' || f.present || required.has(key)) out[key] = raw;
        } else if (f.kind === 'lines') out[key] = raw.split(/\r?\n/).filter((l) => l.trim() !== '');
        else if (raw.trim() !== '') {
          try {
            const v = JSON.parse(raw);
            if (f.whole) return v;
            out[key] = v;
          } catch (e) {
            mark(f, `not valid JSON: ${e.message}`);
            ok = false;
          }
        }
      }
      if (!ok) this.focusFirstError();
      return ok ? out : null;
    },
    showErrors(violations) {
      clear();
      const left = [];
      for (const v of violations) {
        const parts = v.pointer.split('/').slice(1).map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
        let key = parts[0] ?? '';
        const req = !key && /^"([^"]+)" is a required property/.exec(v.message);
        if (req) key = req[1];
        const f = fields.get(key) ?? (fields.has('') ? fields.get('') : null);
        if (!f || (!key && !f.whole)) {
          left.push(v);
          continue;
        }
        const path = parts.slice(1).map((p) => (/^\d+$/.test(p) ? `${f.kind === 'lines' ? 'line' : 'item'} ${Number(p) + 1}` : p));
        const where = path.length ? `${path.join(' › ')}: ` : '';
        mark(f, where + v.message);
      }
      return left;
    },
    focusFirstError() {
      el.querySelector('[aria-invalid="true"]')?.focus();
    },
  };
}
