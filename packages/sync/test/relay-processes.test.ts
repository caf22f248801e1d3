// Real processes through a relay process: an Edge process on SQLite that dials out to a
// `startRelay` process, and a Frontend process following it through the relay. The relay is
// killed with SIGKILL and started again on the same port in the middle of the initial sync and
// in the middle of bursts of Desired writes (moments from a seed). The relay keeps nothing, so
// after quiescence the replica equals the Edge (S1) and every Desired write was applied exactly
// once or marked conflict (S3, S4); once with plain sync, once through the encrypted channel
// (paired through the relay with a one-time code). Replay a failure with RELAY_SEED=<seed> (printed).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prng } from './fixtures/lines.js';
import { Proc, checkConverged, sleep } from './fixtures/proc.js';
import { newSigner, randomFrontendId } from './fixtures/relay-signer.js';

const children: Proc[] = [];
let dir = '';

afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.kill()));
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** Starts a relay process on `port` (0: a free one), retrying while a killed one's port is held. */
async function startRelayProcess(port: number, nodeArgs: readonly string[] = []): Promise<{ proc: Proc; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const p = new Proc('relay', 'relay-process.ts', { port }, nodeArgs);
    children.push(p);
    try {
      const ready = await p.next((m) => m.t === 'ready', 'relay ready');
      return { proc: p, port: ready.port as number };
    } catch (e) {
      if (attempt < 20 && /EADDRINUSE/.test(p.stderr)) {
        await sleep(100);
        continue;
      }
      throw e;
    }
  }
}

describe('real processes through a relay process', () => {
  it.each([
    ['plain sync', false],
    ['the encrypted channel', true],
  ])('converge and apply every Desired write once, across SIGKILLs of the relay (%s)', { timeout: 240_000 }, async (_name, encrypted) => {
    const seed = process.env.RELAY_SEED !== undefined ? Number(process.env.RELAY_SEED) : Math.floor(Math.random() * 2 ** 31);
    const random = prng(seed);
    const log: string[] = [`seed ${seed}`, encrypted ? 'encrypted' : 'plain'];
    dir = mkdtempSync(join(tmpdir(), 'cse-relay-proc-'));
    let relay = await startRelayProcess(0);
    const url = `ws://127.0.0.1:${relay.port}`;
    const signer = await newSigner();
    const frontendId = randomFrontendId();
    const relayCfg = encrypted ? { url, secure: true } : { url, jwk: signer.jwk, frontendId };
    const edge = new Proc('edge', 'edge-process.ts', { file: join(dir, 'edge.sqlite'), port: 0, seed, initial: 1000, pageSize: 25, workers: 300, relay: relayCfg });
    children.push(edge);
    const ready = await edge.next((m) => m.t === 'ready', 'edge ready');
    const access = encrypted ? { edgeId: ready.edgeId, code: ready.code } : { edgeId: ready.edgeId, token: ready.token };
    const fe = new Proc('frontend', 'frontend-process.ts', { file: join(dir, 'frontend.sqlite'), url, workerTypes: ['pump'], relay: access });
    children.push(fe);
    await fe.next((m) => m.t === 'ready', 'frontend ready');

    const sent: string[] = [];
    const saved = new Set<string>();
    let savedCount = 0;
    const write = async (why: string): Promise<void> => {
      const id = random() < 0.3 ? `c${Math.floor(random() * 4)}` : `d${sent.length}`;
      sent.push(id);
      const r = await fe.request({ t: 'write', type: 'pump', id, body: { w: sent.length - 1, why } }, 'saved');
      if (r.id === id) {
        saved.add(id);
        savedCount++;
      }
    };
    const restart = async (why: string): Promise<void> => {
      await relay.proc.kill();
      log.push(`kill relay ${why}`);
      await sleep(random() * 400);
      relay = await startRelayProcess(relay.port);
    };

    try {
      // In the middle of the initial sync.
      const mid = await fe.next((m) => m.t === 'status' && (m.cursor as number) > 0 && (m.cursor as number) < (m.head as number), 'initial sync under way');
      await sleep(random() * 150);
      log.push(`initial sync at ${String(mid.cursor)}/${String(mid.head)}`);
      const down = restart('mid initial sync');
      for (let i = Math.floor(random() * 3); i > 0; i--) await write('relay down');
      await down;
      await fe.next((m) => m.t === 'status' && m.status === 'live', 'live again', fe.messages.length);

      // In the middle of bursts of Desired writes.
      for (let round = 0; round < 3; round++) {
        const burst = 10 + Math.floor(random() * 15);
        const killAt = Math.floor(random() * burst);
        let pending: Promise<void> | undefined;
        for (let i = 0; i < burst; i++) {
          if (i === killAt) pending = restart(`burst ${round} at write ${i}/${burst}`);
          await write(`burst ${round}`);
          if (random() < 0.3) await sleep(random() * 30);
        }
        await pending;
        await sleep(random() * 500);
      }
      await write('last');
      await edge.request({ t: 'stop-writing' }, 'stopped');
      const { conflicts, edgeDocs } = await checkConverged(edge, fe, sent, saved);
      log.push(`${sent.length} writes, ${conflicts} conflicts, ${edgeDocs} edge docs`);
      expect(savedCount, 'every write saved locally at once, relay up or down').toBe(sent.length);
    } catch (err) {
      throw new Error(`${log.join('; ')}\n(replay with RELAY_SEED=${seed})\nedge stderr: ${edge.stderr}\nfrontend stderr: ${fe.stderr}\nrelay stderr: ${relay.proc.stderr}`, { cause: err });
    }
    console.log(log.join('; '));
  });
});
