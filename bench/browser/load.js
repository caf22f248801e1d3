// L1 on the page side: starts the load worker (browser/load-worker.js, its bundled text handed
// in by lib/browser-suite.js) and times one raw or CSE load in it, watching this page's main
// thread with a PerformanceObserver for long tasks (over 50 ms) meanwhile.

let worker;
let observer;
const longTasks = [];

/** Starts the worker from its bundled source; must run once before `loadRun`. */
export function loadInit(workerSource) {
  const url = URL.createObjectURL(new Blob([workerSource], { type: 'text/javascript' }));
  worker = new globalThis.Worker(url, { type: 'module' });
  observer = new PerformanceObserver((list) => longTasks.push(...list.getEntries()));
  observer.observe({ type: 'longtask', buffered: true });
  const status = globalThis.document.createElement('p');
  status.id = 'load-status';
  globalThis.document.body.append(status);
}

/**
 * One load in the worker: `side` 'raw' or 'cse'. Resolves to docs/s, seconds (as the worker
 * timed it), the replica's commits (CSE: how many, seconds inside them) and the page's long tasks during the run (count and longest, in ms).
 */
export async function loadRun({ side, name, url, docs }) {
  const status = globalThis.document.getElementById('load-status');
  const started = performance.now();
  const done = await new Promise((resolve, reject) => {
    worker.onmessage = (ev) => {
      const m = ev.data;
      // Drawn like a UI would draw it: the page's own work during the load.
      if (m.t === 'progress') status.textContent = `${m.applied} of ${m.head}`;
      else if (m.t === 'done') resolve(m);
      else reject(new Error(m.error));
    };
    worker.postMessage({ t: side, name, url, docs });
  });
  const ended = performance.now();
  longTasks.push(...observer.takeRecords());
  const during = longTasks.filter((e) => e.startTime + e.duration >= started && e.startTime <= ended);
  longTasks.length = 0;
  const { seconds, commits, commitSeconds } = done;
  return { side, docs, seconds, docsPerSec: docs / seconds, commits, commitSeconds, longTasks: during.length, longestTaskMs: during.reduce((m, e) => Math.max(m, e.duration), 0) };
}
