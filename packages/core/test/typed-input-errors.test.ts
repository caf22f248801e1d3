/**
 * Issue 27, "typed errors everywhere": options that are `null`, a transaction without a
 * function, values whose getters throw (in a document, a batch, a query operand, an index field)
 * and malformed replica or adapter writes are all `VALIDATION` with nothing written, never a raw
 * `TypeError`/`Error`. And a malformed expectation is `VALIDATION` even when it is fed to an
 * adapter's `commit` directly.
 */
import { describe, expect, it } from 'vitest';
import type { CommitRequest, Store, WriteOp } from '@cse/core';
import { MemoryAdapter, Replica, assertCommitRequest, withRetry } from '@cse/core';
import { memoryStore, rejection } from './helpers.js';

/** An object whose `x` getter throws: reading it is the failure. */
const throwing = (): object =>
  Object.defineProperty({}, 'x', {
    enumerable: true,
    get() {
      throw new Error('getter says no');
    },
  });

const throwingToString = { toString: (): string => { throw new Error('toString says no'); } };

function badCalls(store: Store): [string, () => unknown][] {
  const replica = new Replica(store);
  return [
    ['changesSince(0, null)', () => store.changesSince(0, null as never)],
    ['changesSince with a throwing limit getter', () => store.changesSince(0, Object.defineProperty({}, 'limit', { get: () => { throw new Error('no'); } }))],
    ['watch(0, null)', () => store.watch(0, null as never)],
    ['onChanges(0, fn, null)', () => store.onChanges(0, () => undefined, null as never)],
    ['onChanges with onError not a function', () => store.onChanges(0, () => undefined, { onError: 5 as never })],
    ['update(..., null)', () => store.update('items', { id: 'keep' }, null as never)],
    ['upsert(..., null)', () => store.upsert('items', { id: 'keep' }, null as never)],
    ['delete(..., null)', () => store.delete('items', 'keep', null as never)],
    ['transaction(null)', () => store.transaction(null as never)],
    ['transaction(5)', () => store.transaction(5 as never)],
    ['tx.update(..., null)', () => store.transaction(async (tx) => tx.update('items', { id: 'keep' }, null as never))],
    ['createIndex with a field whose toString throws', () => store.createIndex('items', throwingToString as never)],
    ['a document with a throwing getter', () => store.insert('items', { id: 'g', nested: throwing() })],
    ['a document whose id getter throws', () => store.insert('items', Object.defineProperty({}, 'id', { enumerable: true, get: () => { throw new Error('no'); } }) as never)],
    ['a document that is a throwing proxy', () => store.insert('items', new Proxy({ id: 'p' }, { ownKeys: () => { throw new Error('trap'); } }))],
    ['insertMany with a throwing getter in the second document', () => store.insertMany('items', [{ id: 'b1' }, { id: 'b2', nested: throwing() }])],
    ['find with a throwing filter operand', () => store.find('items', { filter: { v: throwing() as never } })],
    ['find with a throwing $in element', () => store.find('items', { filter: { v: { $in: [throwing() as never] } } })],
    ['find with a throwing filter', () => store.find('items', { filter: throwing() as never })],
    ['Replica.commit([null])', () => replica.commit([null as never])],
    ['Replica.commit of a body with a throwing getter', () => replica.commit([{ collection: 'items', id: 'r', kind: 'put', body: throwing() as never }])],
    ["Replica.commit with expect: 'absent' (a string)", () => replica.commit([{ collection: 'items', id: 'r', kind: 'put', body: {}, expect: 'absent' as never }])],
    ["Replica.commit with version '1' (a string)", () => replica.commit([{ collection: 'items', id: 'keep', kind: 'put', body: {}, expect: { kind: 'version', version: '1' } as never }])],
    ['Replica.commit with an unknown expect kind', () => replica.commit([{ collection: 'items', id: 'keep', kind: 'delete', expect: { kind: 'newer' } as never }])],
    ['withRetry(fn, null)', () => withRetry(async () => 1, null as never)],
    ['Replica.commit with a collection whose toString throws', () => replica.commit([{ collection: throwingToString as never, id: 'r', kind: 'delete' }])],
    ['Replica.commit with a kind whose toString throws', () => replica.commit([{ collection: 'items', id: 'r', kind: throwingToString as never }])],
  ];
}

describe('typed errors for hostile input (issue 27)', () => {
  it('every hostile call is VALIDATION, and nothing is written', async () => {
    const store = memoryStore();
    await store.insert('items', { id: 'keep', v: 1 });
    const before = { last: await store.lastSyncId(), docs: await store.find('items') };
    for (const [what, call] of badCalls(store)) {
      let error: unknown;
      try {
        // watch() throws at once; a generator that did not would reject on its first read.
        const r = call();
        if (r !== null && typeof r === 'object' && Symbol.asyncIterator in r) await (r as AsyncGenerator).next();
        else await r;
      } catch (e) {
        error = e;
      }
      expect(error, `${what} did not throw`).toBeDefined();
      expect((error as { code?: unknown }).code, `${what} threw ${String(error)}`).toBe('VALIDATION');
    }
    expect(await store.lastSyncId()).toBe(before.last);
    expect(await store.find('items')).toEqual(before.docs);
    await store.close();
  });

  it('the error of a throwing getter says what could not be read, with the original as cause', async () => {
    const store = memoryStore();
    const e = await rejection(store.insertMany('items', [{ id: 'a' }, { id: 'b', n: throwing() }]));
    expect(e).toMatchObject({ code: 'VALIDATION', details: { index: 1 } });
    expect(e.message).toMatch(/could not be read: getter says no/);
    expect((e.cause as Error).message).toBe('getter says no');
  });
});

describe('malformed expectations (issue 27: Redis wrote, then rejected)', () => {
  const MALFORMED: [string, unknown][] = [
    ['an unknown kind', { kind: 'newer' }],
    ["'absent' as a string", 'absent'],
    ["the version as the string '1'", { kind: 'version', version: '1' }],
    ['a version of 1.5', { kind: 'version', version: 1.5 }],
    ['a version of -1', { kind: 'version', version: -1 }],
    ['a version without a number', { kind: 'version' }],
    ['null', null],
  ];

  it('MemoryAdapter.commit rejects each with VALIDATION and writes nothing', async () => {
    const adapter = new MemoryAdapter();
    const seed = await adapter.commit({ now: '2026-01-01T00:00:00.000Z', writes: [{ collection: 'items', id: 'a', kind: 'put', body: { id: 'a' } }] });
    expect(seed.ok).toBe(true);
    for (const [what, expectation] of MALFORMED) {
      const writes = [
        { collection: 'items', id: 'b', kind: 'put', body: { id: 'b' } },
        { collection: 'items', id: 'a', kind: 'put', body: { id: 'a', v: 2 }, expect: expectation },
      ] as unknown as WriteOp[];
      const e = await rejection(adapter.commit({ now: '2026-01-01T00:00:01.000Z', writes }));
      expect(e.code, what).toBe('VALIDATION');
      expect(e, what).toMatchObject({ details: { index: 1 } });
    }
    expect(await adapter.sequence()).toEqual({ lastSyncId: 1, compactedThrough: 0 });
    expect((await adapter.scanCollection('items')).map((r) => r.id)).toEqual(['a']);
  });

  it('assertCommitRequest accepts every well-formed write and names the bad one', () => {
    const good: CommitRequest = {
      now: 'x',
      writes: [
        { collection: 'a', id: '1', kind: 'put', body: {}, expect: { kind: 'absent' } },
        { collection: 'a', id: '2', kind: 'delete', expect: { kind: 'exists' } },
        { collection: '_sys', id: '3', kind: 'check', expect: { kind: 'version', version: 4 } },
        { collection: 'a', id: '4', kind: 'put', body: {} },
      ],
    };
    expect(() => assertCommitRequest(good)).not.toThrow();
    for (const bad of [null, 5, { kind: 'put', collection: 'a', id: 1, body: {} }, { kind: 'upsert', collection: 'a', id: '1' }, { kind: 'put', collection: 'a', id: '1' }]) {
      expect(() => assertCommitRequest({ now: 'x', writes: [good.writes[0] as WriteOp, bad as never] }), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'VALIDATION', details: { index: 1 } }),
      );
    }
    expect(() => assertCommitRequest({ now: 'x', writes: 'nope' as never })).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
  });
});
