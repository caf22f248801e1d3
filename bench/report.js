// Turns the suites' results into the table (terminal and Markdown) and judges the targets.

const fmt = (x) => (x === undefined || Number.isNaN(x) ? '-' : x >= 1000 ? Math.round(x).toLocaleString('en-US') : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const mb = (x) => (x === undefined ? '-' : x.toFixed(0));

/** What a smoke run (`--quick`) prints instead of a verdict: its short runs say nothing about targets. */
export const NOT_JUDGED = 'not judged (smoke run)';

/**
 * Adds `slowdown` (raw ops/s ÷ CSE ops/s) and `verdict` to one workload result. With `smoke`
 * (a `--quick` run) targets are not judged: the verdict is `NOT_JUDGED`.
 */
export function judge(w, smoke = false) {
  if (w.error) return { ...w, verdict: `error: ${w.error}` };
  if (w.id === 'W7') return judgeLive(w);
  // Median of the per-run ratios (each raw run paired with the CSE run next to it).
  const slowdown = w.pairedSlowdown?.median ?? w.raw.opsPerSec / w.cse.opsPerSec;
  if (smoke) return { ...w, slowdown, verdict: w.target ? NOT_JUDGED : '' };
  let verdict = '';
  if (w.target?.maxSlowdown !== undefined) verdict = slowdown <= w.target.maxSlowdown ? 'met' : 'MISSED';
  if (w.target?.maxScaling !== undefined) verdict = w.scaling.cse < w.target.maxScaling ? 'met' : 'MISSED';
  return { ...w, slowdown, verdict };
}

/** W7 goals, in ms, per mode (see workloads/w7-live-changes.js). */
const LIVE_GOALS = { 'same process': { key: 'medianMs', max: 1, text: 'median < 1 ms' }, 'other process': { key: 'p99Ms', max: 25, text: 'p99 < 25 ms' }, 'other client': { key: 'p99Ms', max: 5, text: 'p99 < 5 ms' } };

function judgeLive(w) {
  if (w.skipped || !w.points) return { ...w, verdict: '' };
  const points = w.points.map((p) => {
    const goal = LIVE_GOALS[p.mode];
    const verdict = !w.verdicts || !goal ? '' : p.missing > 0 ? 'MISSED (changes not seen)' : p[goal.key] < goal.max ? 'met' : 'MISSED';
    return { ...p, goal: goal?.text, verdict };
  });
  return { ...w, points, verdict: '' };
}

function liveRows(a, w) {
  if (w.skipped) return [[a.adapter, 'W7', w.skipped, '', '', '', '', '', '']];
  const ms = (x) => (Number.isNaN(x) ? '-' : x.toFixed(2));
  const out = w.points.map((p) => [
    a.adapter,
    `W7 ${p.mode} @${p.rate}/s`,
    'commit→watcher ms',
    `median ${ms(p.medianMs)}, p99 ${ms(p.p99Ms)}, max ${ms(p.maxMs)}`,
    '-',
    '-',
    '-',
    '-',
    `${p.count} changes at ${fmt(p.achievedRate)}/s${p.missing ? `, ${p.missing} NOT SEEN` : ''}${p.goal ? `; ${p.goal}${p.verdict ? `: ${p.verdict}` : ''}` : ''}`,
  ]);
  const i = w.idle;
  out.push([a.adapter, 'W7 idle watcher', 'CPU ms/s, wake-ups/s', `${i.withWatcher.cpuMsPerSec.toFixed(2)} ms/s, ${i.withWatcher.wakeupsPerSec.toFixed(1)}/s`, '-', '-', '-', '-', `without a watcher: ${i.without.cpuMsPerSec.toFixed(2)} ms/s, ${i.without.wakeupsPerSec.toFixed(1)}/s (over ${i.seconds} s each)`]);
  return out;
}

export function rows(results, smoke = false) {
  const out = [];
  for (const a of results) {
    if (a.error) {
      out.push([a.adapter, '-', `suite failed: ${a.error}`, '', '', '', '', '', '']);
      continue;
    }
    for (const w0 of a.workloads) {
      const w = judge(w0, smoke);
      if (w.error) {
        out.push([a.adapter, w.id, w.verdict, '', '', '', '', '', '']);
        continue;
      }
      if (w.id === 'W7') {
        out.push(...liveRows(a, w));
        continue;
      }
      const range = (s) => `${fmt(s.opsPerSec)} (${fmt(s.min)}-${fmt(s.max)})`;
      const ratio = (p, fallback) => (p ? `${p.median.toFixed(2)} (${p.min.toFixed(2)}-${p.max.toFixed(2)})` : fallback.toFixed(2));
      let extra = w.target?.text ? `${w.target.text}: ${w.verdict}` : '';
      if (w.id === 'W5') {
        out.push([a.adapter, `W5 ${w.small.size / 1000}k`, w.unit, range(w.small.cse), range(w.small.raw), ratio(w.small.pairedSlowdown, w.small.raw.opsPerSec / w.small.cse.opsPerSec), `${mb(w.small.cse.rssPeakMb)} / ${mb(w.small.raw.rssPeakMb)}`, `${w.small.cse.heapGrowthMb.toFixed(1)} / ${w.small.raw.heapGrowthMb.toFixed(1)}`, '']);
        extra = `100k/1k page time: cse ${w.scaling.cse.toFixed(2)}, raw ${w.scaling.raw.toFixed(2)}; ${extra}`;
        out.push([a.adapter, `W5 ${w.large.size / 1000}k`, w.unit, range(w.cse), range(w.raw), ratio(w.pairedSlowdown, w.slowdown), `${mb(w.cse.rssPeakMb)} / ${mb(w.raw.rssPeakMb)}`, `${w.cse.heapGrowthMb.toFixed(1)} / ${w.raw.heapGrowthMb.toFixed(1)}`, extra.replace('100k', `${w.large.size / 1000}k`).replace('/1k', `/${w.small.size / 1000}k`)]);
        continue;
      }
      if (w.mode) extra = w.mode;
      out.push([a.adapter, w.id, w.unit, range(w.cse), range(w.raw), ratio(w.pairedSlowdown, w.slowdown), `${mb(w.cse.rssPeakMb)} / ${mb(w.raw.rssPeakMb)}`, `${w.cse.heapGrowthMb.toFixed(1)} / ${w.raw.heapGrowthMb.toFixed(1)}`, extra]);
    }
  }
  return out;
}

export const HEADER = ['adapter', 'workload', 'unit', 'CSE median (min-max)', 'raw median (min-max)', 'raw/CSE paired median (min-max)', 'peak RSS MB cse / raw', 'heap growth MB cse / raw', 'target / notes'];

export function textTable(results, smoke = false) {
  const all = [HEADER, ...rows(results, smoke)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  return all.map((r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

export function markdownTable(results, smoke = false) {
  const all = rows(results, smoke);
  return [`| ${HEADER.join(' | ')} |`, `|${HEADER.map(() => '---').join('|')}|`, ...all.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** The sync workload (S1): one table of initial syncs and the latency line, as Markdown lines. */
export function syncMarkdown(sync, command, date, smoke = false) {
  const verdict = (ok) => (smoke ? NOT_JUDGED : ok ? 'met' : 'MISSED');
  if (sync === undefined) return [];
  const head = ['## Sync (S1, `@cse/sync`, Edge and replica on SQLite synchronous=FULL)', ''];
  if (sync.error) return [...head, `S1 failed: ${sync.error.split('\n')[0]}`, ''];
  const l = sync.latency;
  return [
    ...head,
    `Made by \`${command}\` on ${date}. Initial sync of an empty replica from an Edge of N documents (about 250 B each, window 4, Edge pages of 200 unless the row says otherwise); \`ratio\` = sync docs/s ÷ the Edge's own \`changesSince\` read rate over the same documents (pages of 200), goal ≥ 0.5. Bytes count both directions (UTF-8 frames). Heap: Edge and replica share the process; \`peak\` = highest heapUsed above the heap after a GC at the start, \`retained\` = the same after a forced GC every 250 ms (what must not grow with N).`,
    '',
    '| N | transport, page size | seconds | docs/s | Edge read/s | ratio (goal ≥ 0.5) | bytes/change | pages | heap peak MB | heap retained MB |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...sync.initial.map((r) => `| ${r.docs.toLocaleString('en-US')} | ${r.via === 'ws' ? 'loopback WebSocket' : 'memory pair'}, ${r.pageSize ?? 200} | ${r.seconds.toFixed(2)} | ${fmt(r.docsPerSec)} | ${fmt(r.edgeReadPerSec)} | ${r.ratio.toFixed(2)} ${verdict(r.ratio >= 0.5)} | ${r.bytesPerChange.toFixed(0)} | ${r.pages} | ${r.heapPeakGrowthMb.toFixed(1)} | ${r.heapRetainedGrowthMb.toFixed(1)} |`),
    '',
    l
      ? `Commit-to-replica latency over the loopback WebSocket, single-change commits at ${l.targetRate}/s for ${(l.changes / l.targetRate).toFixed(0)} s (achieved ${fmt(l.achievedRate)}/s) on the ${sync.params.small.toLocaleString('en-US')}-document store: median ${l.medianMs.toFixed(1)} ms, p99 ${l.p99Ms.toFixed(1)} ms (goal < 50 ms: ${verdict(l.p99Ms < 50)}), max ${l.maxMs.toFixed(1)} ms; ${l.seen}/${l.changes} seen, ${l.lost} lost.`
      : '',
    '',
  ];
}

/** The relay workload (S2): relay + channel against a direct WebSocket, as Markdown lines. */
export function relayMarkdown(relay, command, date, smoke = false) {
  const verdict = (ok) => (smoke ? NOT_JUDGED : ok ? 'met' : 'MISSED');
  if (relay === undefined) return [];
  const head = ['## Relay (S2, `@cse/relay` process + the end-to-end encrypted channel vs a direct WebSocket)', ''];
  if (relay.error) return [...head, `S2 failed: ${relay.error.split('\n')[0]}`, ''];
  const l = relay.latency;
  const m = relay.memory;
  return [
    ...head,
    `Made by \`${command}\` on ${date}. Same workload, same process tree: the Edge (SQLite synchronous=FULL) and the replica in one process, the relay in its own (\`startRelay\`, as \`cse-relay\` runs it). Initial sync of ${relay.params.docs.toLocaleString('en-US')} documents into an empty replica, direct (loopback WebSocket, no channel) and through the relay with the channel (ECDH/HKDF/AES-256-GCM, base64url records), alternating, median of ${relay.params.runs} runs each after a warm-up; pairing is not timed. Bytes: every frame both ways at the Frontend (for the relay: what it forwarded). Relay CPU: the relay process's user+system time during the relay runs ÷ MB forwarded.`,
    '',
    '| replica | direct docs/s | relay+channel docs/s | ratio (goal ≥ 0.7) | bytes/change direct | bytes/change relay | relay CPU ms per MB |',
    '|---|---|---|---|---|---|---|',
    ...relay.throughput.map((r) => `| ${r.replica === 'sqlite' ? 'SQLite FULL' : 'memory'} | ${fmt(r.directDocsPerSec)} | ${fmt(r.relayDocsPerSec)} | ${r.ratio.toFixed(2)} ${verdict(r.ratio >= 0.7)} | ${r.directBytesPerChange.toFixed(0)} | ${r.relayBytesPerChange.toFixed(0)} | ${(r.relayCpuSecPerMb * 1000).toFixed(1)} |`),
    '',
    l
      ? `Commit-to-replica latency, single-change commits at ${l.direct.targetRate}/s, ${l.direct.changes} changes per side in two runs each (direct, relay, relay, direct), the Edge in its own process, replica on SQLite FULL: direct median ${l.direct.medianMs.toFixed(2)} ms (p99 ${l.direct.p99Ms.toFixed(1)} ms, ${l.direct.seen}/${l.direct.changes} seen), relay + channel median ${l.relay.medianMs.toFixed(2)} ms (p99 ${l.relay.p99Ms.toFixed(1)} ms, ${l.relay.seen}/${l.relay.changes} seen): ratio ${l.ratio.toFixed(2)} (goal ≤ 1.3: ${verdict(l.ratio <= 1.3)}).`
      : '',
    '',
    relay.roundTrips
      ? `Where latency goes (median echo round trip of a 300-byte frame, ${relay.roundTrips.frames} in a row, no store): direct WebSocket ${relay.roundTrips.directMs.toFixed(2)} ms, through the relay process ${relay.roundTrips.relayMs.toFixed(2)} ms, through the relay with the channel ${relay.roundTrips.relayChannelMs.toFixed(2)} ms (the channel adds four AES-GCM operations per round trip, each a hop to libuv's thread pool in Node's WebCrypto; on a loaded machine every extra process and thread wake-up waits for a core).`
      : '',
    '',
    m ? `Relay memory per connection (${m.sessions} idle Frontend sessions = ${m.connections} connections, after a GC in the relay process): ${m.heapPerConnectionKb.toFixed(1)} KiB heap, ${m.rssPerConnectionKb.toFixed(1)} KiB RSS.` : '',
    '',
  ];
}

export function markdown(report) {
  const e = report.environment;
  const lines = [
    '# Benchmark results',
    '',
    `Made by \`${report.command}\` on ${report.date} (commit ${e.gitCommit}).`,
    '',
    `Machine: ${e.cpu} x ${e.cores}, ${e.memoryGb} GB RAM, ${e.os}; Node ${e.node}. Load average at start ${e.loadStart.join(' / ')}, at end ${e.loadEnd.join(' / ')}`,
    '(the 2 cores were shared with other work, so absolute figures are noisy; each raw/CSE pair ran alternately in one process, so the ratios are fairer than the absolutes).',
    '',
    `Settings: ${report.params.runs} runs of ${report.params.durationMs} ms per side after a ${report.params.warmupMs} ms warm-up; W2 cycles over ${report.params.updatePool} documents; W3 batches of ${report.params.batchSize}; W4 store of ${report.params.deltaStore}; W5 stores of ${report.params.scaleSmall} and ${report.params.scaleLarge}; W6 ${report.params.writers} writers.`,
    '',
    '`raw/CSE` is the raw baseline\'s rate divided by the CSE rate, how many times slower CSE is (1.00 = as fast; below 1 = faster): the median of the per-run ratios, each raw run paired with the CSE run beside it (they alternate), with the smallest and largest; targets are judged on that median.',
    'Peak RSS is the whole process (both sides and everything loaded); heap growth is the peak heap during a run above the heap after a GC at its start.',
    '',
    markdownTable(report.results, report.params.quick === true),
    '',
    ...syncMarkdown(report.sync, report.command, report.date),
    ...relayMarkdown(report.relay, report.command, report.date),
    '## Durability and versions',
    '',
    ...report.results.map((a) => {
      const facts = Object.entries(a.facts ?? {}).map(([k, v]) => `${k} ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : v}`);
      return `- ${a.adapter}: ${a.durability}${facts.length > 0 ? `; ${facts.join(', ')}` : ''}`;
    }),
    `- packages: ${Object.entries(e.packages).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    '',
  ];
  return lines.join('\n');
}

// `node bench/report.js bench/latest.json` renders RESULTS.md again from a results file.
if (process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  const { readFileSync, writeFileSync } = await import('node:fs');
  const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const out = new URL('./RESULTS.md', import.meta.url);
  writeFileSync(out, markdown(report));
  process.stdout.write(`wrote ${out.pathname}\n`);
}
