import w1 from './w1-single-save.js';
import w2 from './w2-versioned-update.js';
import w3 from './w3-batch.js';
import w4 from './w4-delta-read.js';
import w5 from './w5-delta-scaling.js';
import w6 from './w6-concurrent.js';
import w7 from './w7-live-changes.js';
import w8 from './w8-indexed-find.js';

/** The shared workload definition: every adapter and every baseline runs exactly these. */
export const WORKLOADS = [w1, w2, w3, w4, w5, w6, w7, w8];

/** Workloads that run once, not per adapter (lib/sync-suite.js): the sync layer, SQLite on both ends. */
export const SYNC_WORKLOADS = [{ id: 'S1', module: './s1-sync.js' }, { id: 'S2', module: './s2-relay.js' }, { id: 'S3', module: './s3-commits.js' }, { id: 'D1', module: './d1-dashboard.js' }, { id: 'P1', module: './p1-peers.js' }];

/** Sizes and times: the default run, and --quick (a smoke test of seconds). */
export const PARAMS = {
  full: { runs: 5, durationMs: 400, warmupMs: 150, updatePool: 1000, batchSize: 1000, deltaStore: 10_000, scaleSmall: 1_000, scaleLarge: 100_000, writers: 4, syncSmall: 10_000, syncLarge: 100_000, syncRate: 1000, syncSeconds: 5, live: { rates: [100, 1000], pointMs: 3000, idleMs: 3000, verdicts: true }, relayDocs: 20_000, relayRuns: 3, relayRate: 500, relaySeconds: 3, relayIdle: 200, indexedSizes: [1_000, 10_000, 100_000], loadSizes: [10_000, 100_000], loadRuns: 2, peerSizes: [10_000, 100_000], peerRates: [100, 1000], peerLiveSeconds: 3, peerUploads: 1000, peerChromiumCapSeconds: 180 },
  quick: { runs: 1, durationMs: 40, warmupMs: 10, updatePool: 100, batchSize: 1000, deltaStore: 1_000, scaleSmall: 300, scaleLarge: 3_000, writers: 2, syncSmall: 1_000, syncLarge: 5_000, syncRate: 1000, syncSeconds: 1, live: { rates: [100, 1000], pointMs: 200, idleMs: 200, verdicts: false }, relayDocs: 1_000, relayRuns: 1, relayRate: 200, relaySeconds: 0.5, relayIdle: 10, indexedSizes: [300, 1_000], commitSeconds: 0.5, uploadWrites: 100, loadSizes: [1_000], loadRuns: 1, peerSizes: [1_000], peerRates: [100], peerLiveSeconds: 1, peerUploads: 100, peerChromiumCapSeconds: 60 },
};
