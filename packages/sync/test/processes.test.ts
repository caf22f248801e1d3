// Real processes: an Edge process on SQLite serving a WebSocket on loopback, with a writer loop,
// and a Frontend process with its replica on another SQLite file. Both are killed with SIGKILL
// at seeded moments (the Edge mid initial sync, the Frontend while it resumes it, then either)
// and started again on the same files and port; the Frontend makes Desired writes throughout,
// some while the Edge is down, some to documents the Edge's writer also writes (conflicts).
// After quiescence the replica must equal the Edge for the subscription (S1) and every Desired
// write must have been applied exactly once or be marked conflict (S3, S4).
// Replay a failure with SYNC_SEED=<seed> (printed on failure).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prng } from './fixtures/lines.js';
import { Proc, checkConverged, sleep } from './fixtures/proc.js';

const children: Proc[] = [];
let dir = '';

afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.kill()));
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('real processes: Edge and Frontend on SQLite over a loopback WebSocket', () => {
  it('converge and apply every Desired write once, across SIGKILLs of both', { timeout: 240_000 }, async () => {
    const seed = process.env.SYNC_SEED !== undefined ? Number(process.env.SYNC_SEED) : Math.floor(Math.random() * 2 ** 31);
    const random = prng(seed);
    const log: string[] = [`seed ${seed}`];
    dir = mkdtempSync(join(tmpdir(), 'cse-sync-proc-'));
    const edgeFile = join(dir, 'edge.sqlite');
    const feFile = join(dir, 'frontend.sqlite');
    const edgeCfg = { file: edgeFile, port: 0, seed, initial: 1500, pageSize: 25, workers: 300 };
    let edge: Proc | undefined;
    let fe: Proc | undefined;
    let starts = 0;

    const startEdge = async (port: number): Promise<number> => {
      for (let attempt = 0; ; attempt++) {
        const p = new Proc('edge', 'edge-process.ts', { ...edgeCfg, port, seed: seed + ++starts });
        children.push(p);
        try {
          const ready = await p.next((m) => m.t === 'ready', 'edge ready');
          edge = p;
          return ready.port as number;
        } catch (e) {
          // The port of the killed Edge may still be held for a moment.
          if (attempt < 20 && /EADDRINUSE/.test(p.stderr)) {
            await sleep(100);
            continue;
          }
          throw e;
        }
      }
    };
    const port = await startEdge(0);
    const url = `ws://127.0.0.1:${port}`;
    const startFrontend = async (): Promise<void> => {
      const p = new Proc('frontend', 'frontend-process.ts', { file: feFile, url, workerTypes: ['pump'] });
      children.push(p);
      await p.next((m) => m.t === 'ready', 'frontend ready');
      fe = p;
    };
    await startFrontend();

    // Writes to d<k> (one per document, so each is checked one by one) and to c0..c3, which
    // the Edge's writer also writes (conflicts).
    const sent: string[] = [];
    const saved = new Set<string>();
    const write = async (why: string): Promise<void> => {
      const id = random() < 0.3 ? `c${Math.floor(random() * 4)}` : `d${sent.length}`;
      sent.push(id);
      const f = fe as Proc;
      const r = await f.request({ t: 'write', type: 'pump', id, body: { w: sent.length - 1, why } }, 'saved').catch(() => undefined);
      if (r?.id === id) saved.add(id);
    };

    try {
      // The first kill: the Edge, in the middle of the initial sync.
      await (fe as Proc).next((m) => m.t === 'status' && (m.cursor as number) > 0 && (m.cursor as number) < (m.head as number), 'initial sync under way');
      await sleep(random() * 150);
      let restartedAt = 0;
      for (let round = 0; round < 5; round++) {
        for (let i = Math.floor(random() * 3); i > 0; i--) await write(`round ${round}`);
        // Round 1 kills the Frontend while it resumes the initial sync the Edge's kill cut.
        if (round === 1) {
          const f = fe as Proc;
          const mid = await f.next((m) => m.t === 'status' && m.status === 'syncing' && (m.cursor as number) > 0, 'initial sync resumed', restartedAt, 5000).catch(() => undefined);
          log.push(mid ? `frontend mid sync at ${String(mid.cursor)}/${String(mid.head)}` : 'initial sync had ended');
        }
        const victim = round === 0 ? 'edge' : round === 1 || random() < 0.5 ? 'frontend' : 'edge';
        log.push(`round ${round}: kill ${victim}`);
        if (victim === 'edge') {
          await (edge as Proc).kill();
          for (let i = 1 + Math.floor(random() * 3); i > 0; i--) await write(`edge down ${round}`);
          await sleep(random() * 400);
          await startEdge(port);
          restartedAt = (fe as Proc).messages.length;
        } else {
          await (fe as Proc).kill();
          await sleep(random() * 200);
          await startFrontend();
          await write(`after frontend restart ${round}`);
        }
        await sleep(100 + random() * 600);
      }
      await write('last');
      await (edge as Proc).request({ t: 'stop-writing' }, 'stopped');

      const { conflicts, edgeDocs } = await checkConverged(edge as Proc, fe as Proc, sent, saved);
      log.push(`${sent.length} writes (${saved.size} saved locally), ${conflicts} conflicts, ${edgeDocs} edge docs`);
      expect(saved.size).toBeGreaterThan(5);
    } catch (err) {
      throw new Error(`${log.join('; ')}\n(replay with SYNC_SEED=${seed})\nedge stderr: ${edge?.stderr ?? ''}\nfrontend stderr: ${fe?.stderr ?? ''}`, { cause: err });
    }
    console.log(log.join('; '));
  });
});
