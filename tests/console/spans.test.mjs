// Compliance spans count Unicode scalar values; JavaScript strings count
// UTF-16 units. No browser needed: the conversion is a plain module.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { segments, spanText } from '../../host/console/spans.js';

test('spans index scalar values, not UTF-16 units', () => {
  const text = '😀 환불 Unfortunately your card 4111 1111 1111 1111 was charged.';
  // As the brand-compliance plugin reports them for this text.
  const findings = [{ span: { start: 5, end: 18 } }, { span: { start: 29, end: 48 } }, { span: null }];
  assert.equal(spanText(text, findings[0].span), 'Unfortunately');
  assert.equal(spanText(text, findings[1].span), '4111 1111 1111 1111');
  const marked = segments(text, findings).filter((s) => s.findings.length).map((s) => s.text);
  assert.deepEqual(marked, ['Unfortunately', '4111 1111 1111 1111']);
  assert.equal(segments(text, findings).map((s) => s.text).join(''), text, 'nothing lost or doubled');
});

test('overlapping and out-of-range spans', () => {
  const text = 'abcdef';
  const segs = segments(text, [{ span: { start: 1, end: 4 } }, { span: { start: 3, end: 99 } }, { span: { start: 2, end: 2 } }]);
  assert.deepEqual(segs, [
    { text: 'a', findings: [] },
    { text: 'bc', findings: [0] },
    { text: 'd', findings: [0, 1] },
    { text: 'ef', findings: [1] },
  ]);
});
