// Compliance findings carry spans in Unicode scalar values (wit/compliance.wit:
// "not bytes, not UTF-16 units"), while JavaScript strings index UTF-16
// code units. Array.from(text) splits a string into code points, which for
// any text that came from Rust (always valid UTF-8) are exactly its scalar
// values, so spans index that array.

/**
 * Cut `text` at every finding's span: [{text, findings: [indexes]}] in order.
 * Spans out of range are clamped; empty or missing spans mark nothing.
 */
export function segments(text, findings) {
  const chars = Array.from(text);
  const n = chars.length;
  const clamp = (v) => Math.max(0, Math.min(n, Number(v) || 0));
  const spans = [];
  findings.forEach((f, i) => {
    if (!f.span) return;
    const start = clamp(f.span.start);
    const end = clamp(f.span.end);
    if (end > start) spans.push({ start, end, i });
  });
  const cuts = [...new Set([0, n, ...spans.flatMap((s) => [s.start, s.end])])].sort((a, b) => a - b);
  const out = [];
  for (let k = 0; k + 1 < cuts.length; k += 1) {
    const [a, b] = [cuts[k], cuts[k + 1]];
    out.push({ text: chars.slice(a, b).join(''), findings: spans.filter((s) => s.start <= a && s.end >= b).map((s) => s.i) });
  }
  return out;
}

/** The text a span covers, in scalar values. */
export function spanText(text, span) {
  return Array.from(text).slice(span.start, span.end).join('');
}
