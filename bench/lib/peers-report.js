// The P1 section (sync side by side with PouchDB and RxDB, issue 26) of the bench's report.
const PEERS = ['pouchdb', 'rxdb'];
const num = (x) => (x === undefined || Number.isNaN(x) ? '-' : x >= 1000 ? Math.round(x).toLocaleString('en-US') : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** CSE ÷ best peer, where bigger is better (`higher`) or smaller is (times, bytes); "x" > 1 means CSE is better. */
function ratio(cse, peers, higher) {
  const ok = peers.filter((p) => typeof p === 'number' && !Number.isNaN(p));
  if (typeof cse !== 'number' || Number.isNaN(cse) || ok.length === 0) return '-';
  const best = higher ? Math.max(...ok) : Math.min(...ok);
  return `${(higher ? cse / best : best / cse).toFixed(2)}x`;
}

function envRows(label, e) {
  const rows = [];
  const by = (list, pred) => Object.fromEntries(['cse', ...PEERS].map((s) => [s, list.find((r) => r.system === s && pred(r))]));
  const cell = (r, f) => (r === undefined ? 'not run' : r.skipped ? `capped: ${r.skipped}` : f(r));
  for (const docs of [...new Set(e.load.map((r) => r.docs))]) {
    const r = by(e.load, (x) => x.docs === docs);
    const v = (s) => (r[s] && !r[s].skipped ? r[s].docsPerSec : undefined);
    rows.push(`| ${label} | initial load of ${docs.toLocaleString('en-US')} (docs/s, seconds) | ${['cse', ...PEERS].map((s) => cell(r[s], (x) => `${num(x.docsPerSec)} (${x.seconds.toFixed(1)} s)`)).join(' | ')} | ${ratio(v('cse'), PEERS.map(v), true)} |`);
  }
  for (const rate of [...new Set(e.live.map((r) => r.targetRate))]) {
    const r = by(e.live, (x) => x.targetRate === rate);
    const v = (s) => r[s]?.medianMs;
    const lost = (x) => (x.seen < x.changes ? `, ${x.changes - x.seen} of ${x.changes} not seen` : '');
    const achieved = (x) => (x.achievedRate < 0.9 * rate ? `, server wrote only ${Math.round(x.achievedRate)}/s` : '');
    const uneven = ['cse', ...PEERS].some((s) => r[s] && r[s].achievedRate < 0.9 * rate);
    rows.push(`| ${label} | live latency at ${rate}/s, median / p99 (ms) | ${['cse', ...PEERS].map((s) => cell(r[s], (x) => `${num(x.medianMs)} / ${num(x.p99Ms)}${lost(x)}${achieved(x)}`)).join(' | ')} | ${ratio(v('cse'), PEERS.map(v), false)} (median${uneven ? '; rates differ' : ''}) |`);
  }
  if (e.upload.length > 0) {
    const r = by(e.upload, () => true);
    const v = (s) => r[s]?.seconds;
    rows.push(`| ${label} | upload of ${e.upload[0].writes.toLocaleString('en-US')} client writes (seconds) | ${['cse', ...PEERS].map((s) => cell(r[s], (x) => `${x.seconds.toFixed(2)} s`)).join(' | ')} | ${ratio(v('cse'), PEERS.map(v), false)} |`);
  }
  if (e.bytes.length > 0) {
    const r = by(e.bytes, (x) => x.gzip !== false);
    const plain = e.bytes.find((x) => x.system === 'pouchdb' && x.gzip === false);
    const v = (s) => r[s]?.bytesPerChange;
    const docs = e.load[0]?.docs;
    rows.push(`| ${label} | bytes per change on the wire, initial load of ${docs?.toLocaleString('en-US')} | ${['cse', ...PEERS].map((s) => cell(r[s], (x) => `${num(x.bytesPerChange)} B${s === 'pouchdb' ? ` (gzip; ${plain ? `${num(plain.bytesPerChange)} B without` : 'no plain run'})` : ''}`)).join(' | ')} | ${ratio(v('cse'), PEERS.map(v), false)} |`);
  }
  return rows;
}

/** `env`: the run's environment (its load averages are printed). */
export function peersMarkdown(r, command, date, quick = false, env = undefined) {
  const lines = ['## Sync side by side (issue 26, P1)', ''];
  if (!r) return [];
  if (r.error) return [...lines, `\`${command}\`, ${date}. Failed: ${r.error.split('\n')[0]}`, ''];
  const v = r.versions ?? {};
  lines.push(
    `\`${command}\`, ${date}${quick ? ' (smoke sizes: figures mean nothing)' : ''}. The same documents for all three (lib/docs.js, about 250 B of JSON each). Each server runs in its own Node process on loopback behind a byte-counting TCP proxy (the proxy is used for the initial loads only); the client runs in the bench's Node process, or in a dedicated worker of a headless Chromium page (Debian's Chromium${r.chromiumVersion ? ` ${r.chromiumVersion}` : ''}, on-disk IndexedDB in a persistent profile). One run per row on a shared 2-core machine: read ratios, not absolutes${env ? ` (load average ${env.loadStart.join(' / ')} at the start of this run, ${env.loadEnd?.join(' / ') ?? '?'} at its end)` : ''}.`,
    '',
    `- **CSE**: an Edge on SQLite synchronous=FULL (EdgeSync with its defaults: pages of 1000, \`serveEdge\` with permessage-deflate on); replica \`FrontendSync\` on SQLite synchronous=FULL in Node (as S1's replica) and on \`IndexedDbAdapter\` in Chromium (as L1).`,
    `- **PouchDB** ${v.pouchdb ?? '?'} (pouchdb-browser ${v['pouchdb-browser'] ?? '?'} in Chromium): \`express-pouchdb\` ${v['express-pouchdb'] ?? '?'} in mode \`minimumForPouchDB\` (gzip through its \`compression\` middleware) over PouchDB on leveldb (on disk); replica \`pouchdb-adapter-memory\` in Node, the \`idb\` adapter in Chromium; \`replicate.from\` with \`batch_size: ${r.settings.pouchdb.batch_size}\`, \`batches_limit: ${r.settings.pouchdb.batches_limit}\` (PouchDB's replicate() docs: a larger batch_size speeds up small documents; the default is 100).`,
    `- **RxDB** ${v.rxdb ?? '?'} (rxjs ${v.rxjs ?? '?'}, its Dexie ${v.dexie ?? '?'}): server \`startWebsocketServer\` over an RxDB database on the memory storage (ws ${v.ws ?? '?'}, no permessage-deflate, its default); replica on the memory storage in Node and \`getRxStorageDexie()\` in Chromium; \`replicateWithWebsocketServer\` with \`batchSize: ${r.settings.rxdb.batchSize}\` (default 100), \`multiInstance: false\`, \`live: true\`; no validator or dev-mode plugin. Durability differs: RxDB's server keeps everything in memory, PouchDB's writes leveldb (no fsync per write), the CSE Edge fsyncs every commit (SQLite FULL), which bounds its single-write rate in the live rows.`,
    '- Initial load: from opening the empty replica database until it holds every document (PouchDB: the one-shot replication resolves; RxDB: `awaitInitialReplication()`; CSE: status live with all applied). Live latency: single-document writes on the server at the rate for ' +
      `${r.params.liveSeconds} s, from the write's return in the server process to the document's arrival in the replica's change feed (CSE \`Store.watch\`, PouchDB \`changes({ live: true })\`, RxDB \`collection.$\`); in Chromium the page's clock is aligned with Node's by a round-trip calibration. Upload: ${r.params.uploads} writes made at once on the client (CSE \`saveDesired\` until none is pending; PouchDB \`put\` with a live push replication until \`docs_written\` reaches them; RxDB \`insert\` then \`awaitInSync()\`). Bytes: both directions through the proxy during the initial load, divided by the documents.`,
    `- Chromium rows larger than ${r.params.chromiumCapSeconds} s (estimated from the smaller size) are capped and say so.`,
    '',
    '| where | row | CSE | PouchDB | RxDB | CSE vs best peer |',
    '|---|---|---:|---:|---:|---:|',
  );
  if (r.node) lines.push(...envRows('Node', r.node));
  if (r.chromium) lines.push(...envRows('Chromium', r.chromium));
  lines.push('', '"CSE vs best peer": for rates, CSE ÷ the faster peer; for seconds, milliseconds and bytes, the best peer ÷ CSE. Above 1.00x CSE is ahead, below it behind.', '');
  if (r.chromiumError) lines.push(`The Chromium rows did not run: ${r.chromiumError.split('\n')[0]}`, '');
  return lines;
}
