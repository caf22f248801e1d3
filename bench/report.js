// Turns the suites' results into the table (terminal and Markdown) and judges the targets.
import { dashboardMarkdown } from './lib/dashboard-report.js';
import { peersMarkdown } from './lib/peers-report.js';

const fmt = (x) => (x === undefined || Number.isNaN(x) ? '-' : x >= 1000 ? Math.round(x).toLocaleString('en-US') : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const mb = (x) => (!x ? '-' : x.toFixed(0));
/** Peak heap of a side's runs, with what a GC at the end of a run left above its start (the growth that is not garbage). */
const heap = (s) => (s.heapPeakMb ? `${s.heapPeakMb.toFixed(0)} (${(s.heapRetainedMb ?? 0).toFixed(1)})` : `+${s.heapGrowthMb.toFixed(1)}`);
const heaps = (w) => `${heap(w.cse)} / ${heap(w.raw)}`;

/** What a smoke run (`--quick`) prints instead of a verdict: its short runs say nothing about targets. */
export const NOT_JUDGED = 'not judged (smoke run)';

/**
 * Adds `slowdown` (raw ops/s ÷ CSE ops/s) and `verdict` to one workload result. With `smoke`
 * (a `--quick` run) targets are not judged: the verdict is `NOT_JUDGED`.
 */
export function judge(w, smoke = false) {
  if (w.error) return { ...w, verdict: `error: ${w.error}` };
  if (w.id === 'W7') return judgeLive(w);
  if (w.id === 'L1') return judgeLoad(w, smoke);
  // Median of the per-run ratios (each raw run paired with the CSE run next to it).
  const slowdown = w.pairedSlowdown?.median ?? w.raw.opsPerSec / w.cse.opsPerSec;
  if (smoke) return { ...w, slowdown, verdict: w.target ? NOT_JUDGED : '' };
  let verdict = '';
  if (w.target?.maxSlowdown !== undefined) verdict = slowdown <= w.target.maxSlowdown ? 'met' : 'MISSED';
  if (w.target?.maxScaling !== undefined) {
    const scaled = w.scaling.cse < w.target.maxScaling;
    const fast = w.target.maxSlowdown === undefined || slowdown <= w.target.maxSlowdown;
    verdict = scaled && fast ? 'met' : `MISSED (${[fast ? '' : 'page rate', scaled ? '' : 'scaling'].filter(Boolean).join(', ')})`;
  }
  if (w.target?.maxGrowth !== undefined) verdict = slowdown <= w.target.maxSlowdown && w.growth.cse < w.target.maxGrowth ? 'met' : 'MISSED';
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

/** L1: each size met when CSE ≥ minRatio of raw, the page had no task over maxTaskMs, and (at 100k and up) it took < maxSecondsAt100k. */
function judgeLoad(w, smoke) {
  const t = w.target;
  const sizes = w.sizes.map((z) => {
    const misses = [z.ratio >= t.minRatio ? '' : 'rate', z.longestTaskMs <= t.maxTaskMs ? '' : 'long task', z.docs < 100_000 || z.cse.seconds < t.maxSecondsAt100k ? '' : 'time'].filter(Boolean);
    return { ...z, verdict: smoke ? NOT_JUDGED : misses.length === 0 ? 'met' : `MISSED (${misses.join(', ')})` };
  });
  return { ...w, sizes, verdict: '' };
}

function loadRows(a, w) {
  return w.sizes.map((z) => [
    a.adapter,
    `L1 ${z.docs / 1000}k`,
    w.unit,
    `${fmt(z.cse.docsPerSec)} (${z.cse.runs.map(fmt).join(', ')})`,
    `${fmt(z.raw.docsPerSec)} (${z.raw.runs.map(fmt).join(', ')})`,
    (z.raw.docsPerSec / z.cse.docsPerSec).toFixed(2),
    '-',
    '-',
    `CSE ${z.ratio.toFixed(2)}x raw, ${z.cse.seconds.toFixed(1)} s; page long tasks ${z.longTasks}, longest ${z.longestTaskMs.toFixed(0)} ms; Edge read ${fmt(z.edgeReadPerSec)}/s; ${w.target.text}: ${z.verdict}`,
  ]);
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
      if (w.id === 'L1') {
        out.push(...loadRows(a, w));
        continue;
      }
      const range = (s) => `${fmt(s.opsPerSec)} (${fmt(s.min)}-${fmt(s.max)})`;
      const ratio = (p, fallback) => (p ? `${p.median.toFixed(2)} (${p.min.toFixed(2)}-${p.max.toFixed(2)})` : fallback.toFixed(2));
      let extra = w.target?.text ? `${w.target.text}: ${w.verdict}` : '';
      if (w.id === 'W5') {
        out.push([a.adapter, `W5 ${w.small.size / 1000}k`, w.unit, range(w.small.cse), range(w.small.raw), ratio(w.small.pairedSlowdown, w.small.raw.opsPerSec / w.small.cse.opsPerSec), `${mb(w.small.cse.rssPeakMb)} / ${mb(w.small.raw.rssPeakMb)}`, heaps(w.small), '']);
        extra = `100k/1k page time: cse ${w.scaling.cse.toFixed(2)}, raw ${w.scaling.raw.toFixed(2)}; ${extra}`;
        out.push([a.adapter, `W5 ${w.large.size / 1000}k`, w.unit, range(w.cse), range(w.raw), ratio(w.pairedSlowdown, w.slowdown), `${mb(w.cse.rssPeakMb)} / ${mb(w.raw.rssPeakMb)}`, heaps(w), extra.replace('100k', `${w.large.size / 1000}k`).replace('/1k', `/${w.small.size / 1000}k`)]);
        continue;
      }
      if (w.id === 'W8') {
        for (const [i, z] of w.sizes.entries()) {
          const last = i === w.sizes.length - 1;
          const note = `${(1000 / z.cse.opsPerSec).toFixed(3)} ms vs ${(1000 / z.raw.opsPerSec).toFixed(3)} ms per find; index built in ${z.buildMs.toFixed(0)} ms`;
          const growth = `${w.sizes[w.sizes.length - 1].size / 1000}k/${w.sizes[0].size / 1000}k find time: cse ${w.growth.cse.toFixed(2)}, raw ${w.growth.raw.toFixed(2)}`;
          out.push([a.adapter, `W8 ${z.size / 1000}k`, w.unit, range(z.cse), range(z.raw), ratio(z.pairedSlowdown, z.raw.opsPerSec / z.cse.opsPerSec), `${mb(z.cse.rssPeakMb)} / ${mb(z.raw.rssPeakMb)}`, heaps(z), last ? `${note}; ${growth}; ${extra}` : note]);
        }
        continue;
      }
      if (w.mode) extra = w.mode;
      out.push([a.adapter, w.id, w.unit, range(w.cse), range(w.raw), ratio(w.pairedSlowdown, w.slowdown), `${mb(w.cse.rssPeakMb)} / ${mb(w.raw.rssPeakMb)}`, heaps(w), extra]);
    }
  }
  return out;
}

export const HEADER = ['adapter', 'workload', 'unit', 'CSE median (min-max)', 'raw median (min-max)', 'raw/CSE paired median (min-max)', 'peak RSS MB cse / raw', 'peak heap MB (retained) cse / raw', 'target / notes'];

export function textTable(results, smoke = false) {
  const all = [HEADER, ...rows(results, smoke)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  return all.map((r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

export function markdownTable(results, smoke = false) {
  const all = rows(results, smoke);
  return [`| ${HEADER.join(' | ')} |`, `|${HEADER.map(() => '---').join('|')}|`, ...all.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/**
 * The goals of issue 15 at a glance: CSE's rate as a fraction of raw (1 / paired raw/CSE), per
 * adapter, with the goal and whether it was met; peak heap of W3 and W4 beside them.
 */
const SUMMARY = [
  ['W1', 'W1 save', 0.87],
  ['W2', 'W2 versioned update', 0.87],
  ['W3', 'W3 1000-doc batch', 0.8],
  ['W4', 'W4 delta read', 0.8],
  ['W5', 'newest-100 page (large store)', 0.8],
];

export function summaryMarkdown(results, smoke = false) {
  const head = ['adapter', ...SUMMARY.map(([, t, goal]) => `${t} (goal ≥ ${goal}x)`), 'W3 / W4 peak heap MB cse / raw', 'W5 retained heap MB small → large (cse)'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const a of results) {
    if (a.error) {
      lines.push(`| ${a.adapter} | suite failed: ${a.error.split('\n')[0]} |${' |'.repeat(head.length - 2)}`);
      continue;
    }
    const by = Object.fromEntries(a.workloads.map((w) => [w.id, w]));
    const cells = SUMMARY.map(([id, , goal]) => {
      const w = by[id];
      if (!w) return '-';
      if (w.error) return 'error';
      const slowdown = w.pairedSlowdown?.median ?? w.raw.opsPerSec / w.cse.opsPerSec;
      const x = 1 / slowdown;
      // The memory adapter is the conformance oracle (it deep-copies everything on purpose): no goal.
      return `${x.toFixed(2)}x${smoke || a.adapter === 'memory' ? '' : x >= goal ? ' met' : ' MISSED'}`;
    });
    const peak = (w) => (w && !w.error ? `${w.cse.heapPeakMb?.toFixed(0) ?? '-'} / ${w.raw.heapPeakMb?.toFixed(0) ?? '-'}` : '-');
    const w5 = by.W5;
    const retained = w5 && !w5.error ? `${(w5.small.cse.heapRetainedMb ?? 0).toFixed(1)} → ${(w5.cse.heapRetainedMb ?? 0).toFixed(1)}` : '-';
    lines.push(`| ${a.adapter} | ${cells.join(' | ')} | ${peak(by.W3)}; ${peak(by.W4)} | ${retained} |`);
  }
  return lines.join('\n');
}

const VIA = { memory: 'memory pair', ws: 'loopback WebSocket', 'ws-plain': 'WebSocket, no deflate' };

/** The sync workload (S1): one table of initial syncs and the latency line, as Markdown lines. */
export function syncMarkdown(sync, command, date, smoke = false) {
  const verdict = (ok) => (smoke ? NOT_JUDGED : ok ? 'met' : 'MISSED');
  if (sync === undefined) return [];
  const head = ['## Sync (S1, `@cse/sync`, Edge and replica on SQLite synchronous=FULL)', ''];
  if (sync.error) return [...head, `S1 failed: ${sync.error.split('\n')[0]}`, ''];
  const l = sync.latency;
  return [
    ...head,
    `Made by \`${command}\` on ${date}. Initial sync of an empty replica from an Edge of N documents (about 250 B each, window 4, Edge pages of 200 unless the row says otherwise); \`ratio\` = sync docs/s ÷ the Edge's own \`changesSince\` read rate over the same documents (pages of 200), goal ≥ 0.5. Bytes count both directions: \`frames\` = UTF-8 bytes of the protocol's frames, \`wire\` = bytes through a counting TCP proxy in front of the Edge (WebSocket framing and permessage-deflate included; \`WebSocket, no deflate\` = \`serveEdge({ compression: false })\`). CPU = user + system µs of the process (Edge and replica) per change. Heap: Edge and replica share the process; \`peak\` = highest heapUsed above the heap after a GC at the start, \`retained\` = the same after a forced GC every 250 ms (what must not grow with N).`,
    '',
    '| N | transport, page size | seconds | docs/s | Edge read/s | ratio (goal ≥ 0.5) | bytes/change frames | bytes/change wire | CPU µs/change | pages | heap peak MB | heap retained MB |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...sync.initial.map((r) => `| ${r.docs.toLocaleString('en-US')} | ${VIA[r.via] ?? r.via}, ${r.pageSize ?? 200} | ${r.seconds.toFixed(2)} | ${fmt(r.docsPerSec)} | ${fmt(r.edgeReadPerSec)} | ${r.ratio.toFixed(2)} ${verdict(r.ratio >= 0.5)} | ${r.bytesPerChange.toFixed(0)} | ${r.wireBytesPerChange === undefined ? '' : r.wireBytesPerChange.toFixed(0)} | ${r.cpuUsPerChange === undefined ? '' : r.cpuUsPerChange.toFixed(0)} | ${r.pages} | ${r.heapPeakGrowthMb.toFixed(1)} | ${r.heapRetainedGrowthMb.toFixed(1)} |`),
    '',
    sync.bytesGoal
      ? `Bytes on the wire per synced document (loopback WebSocket with deflate, pages of 200): at most ${sync.bytesGoal.worst.toFixed(0)} B, goal ≤ ${sync.bytesGoal.goal} B (the best peer's, issue 26): ${verdict(sync.bytesGoal.met)}.`
      : '',
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
    '| replica | direct docs/s | relay+channel docs/s | ratio (goal ≥ 0.9, issue 26) | bytes/change direct (frames) | bytes/change relay | relay CPU ms per MB |',
    '|---|---|---|---|---|---|---|',
    ...relay.throughput.map((r) => `| ${r.replica === 'sqlite' ? 'SQLite FULL' : 'memory'} | ${fmt(r.directDocsPerSec)} | ${fmt(r.relayDocsPerSec)} | ${r.ratio.toFixed(2)} ${verdict(r.ratio >= 0.9)} | ${r.directBytesPerChange.toFixed(0)} | ${r.relayBytesPerChange.toFixed(0)} | ${(r.relayCpuSecPerMb * 1000).toFixed(1)} |`),
    '',
    l
      ? `Commit-to-replica latency, single-change commits at ${l.direct.targetRate}/s, ${l.direct.changes} changes per side in two runs each (direct, relay, relay, direct), the Edge in its own process, replica on SQLite FULL: direct median ${l.direct.medianMs.toFixed(2)} ms (p99 ${l.direct.p99Ms.toFixed(1)} ms, ${l.direct.seen}/${l.direct.changes} seen), relay + channel median ${l.relay.medianMs.toFixed(2)} ms (p99 ${l.relay.p99Ms.toFixed(1)} ms, ${l.relay.seen}/${l.relay.changes} seen): ratio ${l.ratio.toFixed(2)} (goal ≤ 1.3: ${verdict(l.ratio <= 1.3)}).`
      : '',
    '',
    relay.upload
      ? `Upload (issue 26): ${relay.upload.writes.toLocaleString('en-US')} Desired writes saved at once on a Frontend (replica on SQLite FULL) until every result is back, median of ${relay.upload.runs} runs each: direct ${relay.upload.direct.seconds.toFixed(2)} s (${fmt(relay.upload.direct.writesPerSec)} writes/s), through the relay with the channel ${relay.upload.relay.seconds.toFixed(2)} s (${fmt(relay.upload.relay.writesPerSec)} writes/s); relay ÷ direct ${relay.upload.ratio.toFixed(2)}. Goal: at least as fast as RxDB's memory row in the same run (0.21 s in issue 26's run): direct ${verdict(relay.upload.direct.seconds <= 0.21)}, relay ${verdict(relay.upload.relay.seconds <= 0.21)} (judged against issue 26's figure until the peers run in this bench).`
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
    'Peak RSS is the whole process (both sides and everything loaded). Peak heap is the highest `heapUsed` during a side\'s runs (both sides share the process, so it includes what the other side left); in brackets what a GC at the end of a run leaves above the heap after a GC at its start: growth that is not garbage (W6 shows +growth instead).',
    '',
    '## Issue 15 goals at a glance',
    '',
    'CSE as a fraction of raw (1 ÷ the paired raw/CSE median below; 1.00x = as fast as hand-written code, above 1 = faster). The memory adapter is the conformance oracle, which deep-copies on purpose: shown, not judged.',
    '',
    summaryMarkdown(report.results, report.params.quick === true),
    '',
    '## Every workload',
    '',
    markdownTable(report.results, report.params.quick === true),
    '',
    ...syncMarkdown(report.sync, report.command, report.date),
    ...relayMarkdown(report.relay, report.command, report.date),
    ...(report.dashboard ? dashboardMarkdown(report.dashboard, report.command, report.date) : []),
    ...(report.peers ? peersMarkdown(report.peers, report.command, report.date, false, report.environment) : []),
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
