import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryAdapter } from '@cse/core';
import type { CommitRequest, CommitResult, StorageAdapter, StoredRecord, WriteOp } from '@cse/core';
import type { IndexedDbAdapter } from '@cse/adapter-indexeddb';
import { freshName, openAdapter } from './env.js';

// The bulk commit path (src/bulk-write.ts): commits of 8 or more writes without `exists`,
// `version` or `check` write each record with `add` and read only the keys already taken.

const now = '2026-01-01T00:00:00.000Z';
const put = (collection: string, id: string, body: Record<string, unknown> = {}, expect?: WriteOp['expect']): WriteOp => ({
  collection,
  id,
  kind: 'put',
  body: { ...body, id } as WriteOp['body'],
  ...(expect ? { expect } : {}),
});
const del = (collection: string, id: string, expect?: WriteOp['expect']): WriteOp => ({ collection, id, kind: 'delete', ...(expect ? { expect } : {}) });
const req = (writes: WriteOp[], at = now): CommitRequest => ({ writes, now: at });
const ids = (n: number, prefix = 'd'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Set CSE_TEST_SEED (and CSE_TEST_PATH) to replay a failure; fast-check prints both. */
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const replay = env['CSE_TEST_SEED'] === undefined ? {} : { seed: Number(env['CSE_TEST_SEED']), ...(env['CSE_TEST_PATH'] ? { path: env['CSE_TEST_PATH'] } : {}) };

const open: StorageAdapter[] = [];
async function adapter(name = freshName('bulk')): Promise<IndexedDbAdapter> {
  const a = await openAdapter(name);
  open.push(a);
  return a;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

function records(r: CommitResult): readonly StoredRecord[] {
  if (!r.ok) throw new Error(`commit failed at ${r.failures.map((f) => f.index).join(', ')}`);
  return r.records;
}

describe('bulk commits', () => {
  it('write new documents with consecutive ids and version 1', async () => {
    const a = await adapter();
    const r = records(await a.commit(req(ids(50).map((id, n) => put('c', id, { n })))));
    expect(r.map((x) => x.syncId)).toEqual(ids(50).map((_, i) => i + 1));
    expect(r.every((x) => x.version === 1 && x.doc._created_at === now)).toBe(true);
    const back = await a.getMany(ids(50).map((id) => ({ collection: 'c', id })));
    expect(back.map((x) => x?.doc['n'])).toEqual(ids(50).map((_, n) => n));
    expect(await a.sequence()).toEqual({ lastSyncId: 50, compactedThrough: 0 });
  });

  it('continue the version of documents and tombstones already stored, keeping _created_at', async () => {
    const a = await adapter();
    records(await a.commit(req(ids(4).map((id) => put('c', id, { v: 1 })))));
    records(await a.commit(req([del('c', 'd1')], '2026-01-02T00:00:00.000Z')));
    const later = '2026-01-03T00:00:00.000Z';
    const r = records(await a.commit(req(ids(12).map((id) => put('c', id, { v: 2 })), later)));
    expect(r.map((x) => x.syncId)).toEqual(ids(12).map((_, i) => 6 + i));
    const byId = new Map(r.map((x) => [x.id, x]));
    expect(byId.get('d0')).toMatchObject({ version: 2, doc: { _version: 2, _created_at: now, _updated_at: later } });
    // A tombstone's version goes on; a re-created document is created anew.
    expect(byId.get('d1')).toMatchObject({ version: 3, deleted: false, doc: { _version: 3, _created_at: later } });
    expect(byId.get('d11')).toMatchObject({ version: 1, doc: { _created_at: later } });
    const [d0, d1] = await a.getMany([{ collection: 'c', id: 'd0' }, { collection: 'c', id: 'd1' }]);
    expect(d0).toEqual(byId.get('d0'));
    expect(d1).toEqual(byId.get('d1'));
  });

  it('refuse the whole commit when an "absent" precondition fails, reporting every failure and writing nothing', async () => {
    const a = await adapter();
    records(await a.commit(req([put('c', 'd3', { old: true }), put('c', 'd5', { old: true }), put('c', 'd7', {})])));
    records(await a.commit(req([del('c', 'd7')])));
    const r = await a.commit(req(ids(10).map((id) => put('c', id, { new: true }, { kind: 'absent' }))));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    // d7 is a tombstone: absent, so not a failure.
    expect(r.failures.map((f) => [f.index, f.current?.doc['old']])).toEqual([
      [3, true],
      [5, true],
    ]);
    expect(await a.sequence()).toEqual({ lastSyncId: 4, compactedThrough: 0 });
    const back = await a.getMany(ids(10).map((id) => ({ collection: 'c', id })));
    expect(back.filter((x) => x !== undefined && !x.deleted).map((x) => x!.id)).toEqual(['d3', 'd5']);
    // The next bulk commit of new documents goes through.
    expect(records(await a.commit(req(ids(10, 'e').map((id) => put('c', id, {}, { kind: 'absent' }))))).length).toBe(10);
  });

  it('read first the writes with a version precondition, and write the rest with add', async () => {
    const a = await adapter();
    const [first] = records(await a.commit(req([put('c', 'state', { n: 0 })])));
    const r = records(await a.commit(req([...ids(10).map((id) => put('c', id)), put('c', 'state', { n: 1 }, { kind: 'version', version: first!.version })])));
    expect(r.at(-1)).toMatchObject({ id: 'state', version: 2, doc: { n: 1 } });
    const stale = await a.commit(req([...ids(10, 'e').map((id) => put('c', id)), put('c', 'state', { n: 2 }, { kind: 'version', version: 1 })]));
    expect(stale.ok).toBe(false);
    if (stale.ok) return;
    expect(stale.failures.map((f) => [f.index, f.current?.version])).toEqual([[10, 2]]);
    expect((await a.getMany([{ collection: 'c', id: 'e0' }]))[0]).toBeUndefined();
  });

  it('keep declared index entries right when they replace documents', async () => {
    const a = await adapter();
    await a.createIndex('c', 'k');
    records(await a.commit(req(ids(10).map((id, n) => put('c', id, { k: n })))));
    records(await a.commit(req(ids(10).map((id, n) => (n % 3 === 0 ? del('c', id) : put('c', id, { k: n + 100 }))))));
    const found = await a.findIndexed('c', [{ field: 'k', selectors: [{ kind: 'eq', value: 101 }] }]);
    expect(found?.map((r) => r.id)).toEqual(['d1']);
    expect(await a.findIndexed('c', [{ field: 'k', selectors: [{ kind: 'eq', value: 1 }] }])).toEqual([]);
    expect(await a.findIndexed('c', [{ field: 'k', selectors: [{ kind: 'eq', value: 103 }] }])).toEqual([]);
  });

  it('commit like the memory adapter under any mix of new, stored and deleted documents (property)', async () => {
    const write = fc.record({
      id: fc.integer({ min: 0, max: 23 }),
      kind: fc.constantFrom('put', 'put', 'put', 'delete', 'check'),
      // Mostly none or absent (the bulk path); now and then one that is read first.
      expect: fc.constantFrom('none', 'none', 'absent', 'absent', 'absent', 'exists', 'v1', 'v2'),
      n: fc.integer({ min: 0, max: 9 }),
    });
    const commit = fc.uniqueArray(write, { minLength: 1, maxLength: 20, selector: (w) => w.id });
    await fc.assert(
      fc.asyncProperty(fc.array(commit, { minLength: 1, maxLength: 8 }), async (commits) => {
        const name = freshName('bulk-model');
        const m = new MemoryAdapter();
        try {
          for (const [i, c] of commits.entries()) {
            const at = `2026-01-01T00:00:${String(i).padStart(2, '0')}.000Z`;
            const writes = c.map((w): WriteOp => {
              const expect: WriteOp['expect'] = w.expect === 'none' ? undefined : w.expect === 'absent' || w.expect === 'exists' ? { kind: w.expect } : { kind: 'version', version: Number(w.expect.slice(1)) };
              if (w.kind === 'check') return { collection: 'c', id: `d${w.id}`, kind: 'check', expect: expect ?? { kind: 'exists' } };
              return w.kind === 'delete' ? del('c', `d${w.id}`, expect) : put('c', `d${w.id}`, { n: w.n }, expect);
            });
            // A new connection for each commit: its first commit of 8 or more writes takes the
            // bulk path whatever the commits before found (a connection backs off after collisions).
            const a = await openAdapter(name);
            try {
              const [got, want] = [await a.commit(req(writes, at)), await m.commit(req(writes, at))];
              expect(got).toEqual(want);
              expect(await a.sequence()).toEqual(await m.sequence());
              const all = ids(24).map((id) => ({ collection: 'c', id }));
              expect(await a.getMany(all)).toEqual(await m.getMany(all));
            } finally {
              await a.close();
            }
          }
        } finally {
          await m.close();
        }
      }),
      { numRuns: 25, ...replay },
    );
  });
});
