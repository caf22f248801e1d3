// The dashboard section (D1) of the bench's report.
const mark = (met, quick) => (quick ? 'not judged (smoke run)' : met === undefined ? 'not measured' : met ? 'met' : 'MISSED');

export function dashboardMarkdown(r, command, date, quick = false) {
  const lines = ['## Dashboard at plant scale (D1, issue 24)', '', `\`${command}\`, ${date}. Headless Chromium (Debian's), \`npm start\`'s real processes (Edges on SQLite with simulated machines, the relay, end-to-end encrypted; in the first sync of 100,002 documents the launcher at the lowest CPU priority, nice 19, as other machines would be). Wall times on this machine: its load is in the run's environment.`, ''];
  if (r.error) return [...lines, `Failed: ${r.error.split('\n')[0]}`, ''];
  const { one, goals, met } = r;
  const fleet = r.fleet ?? { edges: r.size.edges, perEdge: r.size.perEdge, machines: r.size.edges * r.size.perEdge, loadToLiveMs: 'not reached', renderers: 0, rendererRssMb: '-', pageHeapMb: '-', rendererMb: 'not measured', flaps: '-', longestMs: undefined, longestOnceLiveMs: undefined };
  const ms = (x) => (typeof x === 'number' ? `${x} ms` : x);
  const round = (x) => (x === undefined ? '-' : Math.round(x));
  lines.push(
    '| figure | measured | goal | |',
    '|---|---:|---:|---|',
    `| first load to live, ${one.machines} machines on one Edge | ${ms(one.loadToLiveMs)} | | |`,
    `| first load to live, ${fleet.edges} Edges × ${fleet.perEdge} (pairing each with its link) | ${ms(fleet.loadToLiveMs)} | | |`,
    `| open an Edit form (click to next frame; median / max of ${one.openFormMs.n}) | ${one.openFormMs.median} / ${one.openFormMs.max} ms | < ${goals.openFormMs} ms | ${mark(met.openForm, quick)} |`,
    `| edit to synced, p99 of ${one.editToSyncedMs.n} (median ${one.editToSyncedMs.median}, max ${one.editToSyncedMs.max} ms) with Observed traffic at ${one.editToSyncedMs.observedPerSecond} changes/s on the Edge | ${one.editToSyncedMs.p99} ms | < ${goals.editP99Ms} ms | ${mark(met.editP99, quick)} |`,
    `| renderer memory with ${fleet.machines} machines in the page, as found: private memory (RssAnon) of the ${fleet.renderers} renderer process${fleet.renderers === 1 ? '' : 'es'} that can hold the page and its sync worker (Chromium's own UI renderer left out), the median of ${fleet.rendererSamples ?? 1} samples a second apart from just after all were live, no collection forced (the most ${fleet.rendererMb} MB; after a GC in the page and its worker ${fleet.rendererAfterGcMb ?? '-'} MB, RSS with shared pages ${fleet.rendererRssMb} MB, JS heaps: page ${fleet.pageHeapMb} MB, sync worker ${fleet.workerHeapMb ?? '-'} MB) | ${typeof fleet.rendererMedianMb === 'number' ? `${fleet.rendererMedianMb} MB` : fleet.rendererMb} | < ${goals.rendererMb} MB | ${mark(met.memory, quick)} |`,
    `| status flaps once live (one Edge / all Edges) | ${one.flaps} / ${fleet.flaps} | ${goals.flaps} | ${mark(met.flaps, quick)} |`,
    `| longest main-thread task, whole run (one Edge / several); once live | ${round(one.longestMs)} / ${round(fleet.longestMs)} ms; ${round(one.longestOnceLiveMs)} / ${round(fleet.longestOnceLiveMs)} ms | < ${goals.longTaskMs} ms | ${mark(met.longTask, quick)} |`,
  );
  const big = r.big;
  if (big !== undefined) {
    if (big.error !== undefined) lines.push(`| first sync of ${r.size.big * 3} documents (${r.size.big} machines, one Edge) | failed: ${big.error} | | |`);
    else {
      lines.push(
        `| first load to ${big.reached === 'every document' ? 'every document in the page (not live: the sync did not outrun the Edge\'s heartbeats on this machine)' : 'live'}, ${big.machines} machines (${big.documents} documents) on one Edge | ${ms(big.loadToLiveMs)} | | |`,
        `| main-thread tasks over 50 ms during that first sync: how many, the longest (long animation frames over 50 ms: ${big.longFrames}) | ${big.over50}, ${round(big.longestMs)} ms | none over ${goals.longTaskMs} ms | ${mark(met.bigLongTask, quick)} |`,
      );
    }
  }
  lines.push('');
  if (big?.longTasks?.length > 0) lines.push(`The page's tasks over 50 ms in that first sync (when, in ms after the page started, and how long): ${big.longTasks.map((t) => `at ${t.at}: ${t.ms} ms`).join('; ')}.`, '');
  if (big?.longestFrames?.length > 0) lines.push(`The longest frames of that first sync (ms, and the scripts that ran in them): ${big.longestFrames.map((f) => `${f.ms} ms (${f.scripts.join(', ') || 'no script: layout, style or garbage collection'})`).join('; ')}.`, '');
  if (r.fleetError !== undefined) lines.push(`The run with several Edges did not finish: ${r.fleetError}`, '');
  return lines;
}
