// Writing bench/RESULTS.md: a complete run makes the file again, and the sections it does not
// make (written by a workload run on its own, such as the relay fleet's `node bench/relay-fleet.js`,
// or by hand with findings) are carried over, each still naming the run it comes from.

/** The `## ` sections of a markdown text: [heading line, whole section text]. */
function sections(text) {
  const out = [];
  const starts = [...text.matchAll(/^## .*$/gm)].map((m) => m.index);
  starts.forEach((at, k) => {
    const end = k + 1 < starts.length ? starts[k + 1] : text.length;
    const body = text.slice(at, end);
    out.push([body.slice(0, body.indexOf('\n') < 0 ? body.length : body.indexOf('\n')), body]);
  });
  return out;
}

/**
 * `fresh` (what a complete run wrote) with every section of `old` whose heading `fresh` lacks,
 * in their old order, before "## Durability and versions" (or at the end).
 */
export function keepSections(old, fresh) {
  const have = new Set(sections(fresh).map(([h]) => h));
  const kept = sections(old)
    .filter(([h]) => !have.has(h))
    .map(([, body]) => `${body.trimEnd()}\n\n`)
    .join('');
  if (kept === '') return fresh;
  const at = fresh.indexOf('\n## Durability and versions');
  return at < 0 ? `${fresh.trimEnd()}\n\n${kept}` : `${fresh.slice(0, at + 1)}${kept}${fresh.slice(at + 1)}`;
}
