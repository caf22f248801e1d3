import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCseError } from '@cse/core';
import { memoryStore, rejection } from './helpers.js';

const cycle: Record<string, unknown> = { id: 'c' };
cycle.self = cycle;

const badDocuments: [string, unknown][] = [
  ['a function', { id: 'a', f: () => 1 }],
  ['a symbol', { id: 'a', s: Symbol('x') }],
  ['a symbol key', { id: 'a', [Symbol('k')]: 1 }],
  ['a BigInt', { id: 'a', b: 10n }],
  ['NaN', { id: 'a', n: Number.NaN }],
  ['Infinity', { id: 'a', n: Number.POSITIVE_INFINITY }],
  ['a cycle', cycle],
  ['undefined in an array', { id: 'a', list: [1, undefined] }],
  ['a hole in an array', { id: 'a', list: [1, , 3] }], // eslint-disable-line no-sparse-arrays
  ['a Date', { id: 'a', when: new Date() }],
  ['a Map', { id: 'a', m: new Map() }],
  ['an unknown _ key', { id: 'a', _secret: 1 }],
  ['a __proto__ key at the top', JSON.parse('{"id":"a","__proto__":{"polluted":true}}')],
  ['an empty id', { id: '' }],
  ['a numeric id', { id: 7 }],
  ['no id', { n: 1 }],
  ['an array', [1, 2]],
  ['null', null],
  ['a string', 'doc'],
  ['an id with a lone surrogate', { id: 'a\uD800' }],
  ['an id longer than 1024', { id: 'x'.repeat(1025) }],
  ['a bad _sync_status', { id: 'a', _sync_status: 'lost' }],
];

describe('bad input is a ValidationError before anything is written', () => {
  for (const [what, doc] of badDocuments) {
    it(`rejects ${what}`, async () => {
      const store = memoryStore();
      await store.insert('things', { id: 'a', keep: 1 });
      for (const op of [
        () => store.insert('things', doc as never),
        () => store.update('things', doc as never),
        () => store.upsert('things', doc as never),
      ]) {
        const e = await rejection(op());
        expect(isCseError(e, 'VALIDATION'), `${what}: ${e.message}`).toBe(true);
      }
      expect(await store.lastSyncId()).toBe(1);
      expect(await store.get('things', 'a')).toMatchObject({ keep: 1, _version: 1 });
    });
  }

  it('rejects documents over the size limit', async () => {
    const store = memoryStore();
    const e = await rejection(store.insert('things', { id: 'big', blob: 'x'.repeat(1024 * 1024) }));
    expect(e.code).toBe('VALIDATION');
    expect(await store.lastSyncId()).toBe(0);
  });

  it('rejects collection names outside the safe set', async () => {
    const store = memoryStore();
    for (const name of ['', '_system', 'a b', "x'; DROP TABLE docs;--", 'a:b', 'a\u0000b', '1abc', 'é', 'x'.repeat(65), '{tag}', '*']) {
      expect((await rejection(store.insert(name, { id: 'a' }))).code, name).toBe('VALIDATION');
      expect((await rejection(store.get(name, 'a'))).code, name).toBe('VALIDATION');
    }
    expect(await store.lastSyncId()).toBe(0);
  });

  it('rejects bad options and cursors', async () => {
    const store = memoryStore();
    await store.insert('t', { id: 'a' });
    for (const v of [-1, 1.5, Number.NaN, '1']) {
      expect((await rejection(store.update('t', { id: 'a' }, { expectedVersion: v as number }))).code).toBe('VALIDATION');
    }
    expect(await store.lastSyncId()).toBe(1);
  });

  it('stores __proto__ and constructor keys as plain data, with no prototype pollution', async () => {
    const store = memoryStore();
    const doc = JSON.parse('{"id":"p","nested":{"__proto__":{"polluted":true},"constructor":{"prototype":{"bad":1}}},"constructor":"c"}');
    await store.insert('things', doc);
    const back = await store.get('things', 'p');
    expect(Object.prototype.hasOwnProperty.call(back?.nested, '__proto__')).toBe(true);
    expect(back?.constructor).toBe('c');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).bad).toBeUndefined();
  });

  it('drops undefined object properties (JSON semantics) and keeps receiving-side metadata', async () => {
    const store = memoryStore();
    const doc = await store.insert('t', { id: 'a', gone: undefined, _sync_status: 'pending', _synced_at: '2026-01-01T00:00:00Z' });
    expect(doc).not.toHaveProperty('gone');
    expect(doc).toMatchObject({ _sync_status: 'pending', _synced_at: '2026-01-01T00:00:00Z' });
  });

  it('round-trips any JSON document faithfully (property)', async () => {
    const key = fc.string({ maxLength: 8 }).filter((k) => !k.startsWith('_') && k !== 'id' && k !== '__proto__');
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 40 }), fc.dictionary(key, fc.jsonValue({ maxDepth: 4 })), async (id, fields) => {
        fc.pre(!/[\uD800-\uDFFF]/.test(id));
        const store = memoryStore();
        const input = { ...fields, id };
        const snapshot = JSON.stringify(input);
        const stored = await store.insert('things', input);
        const back = await store.get('things', id);
        expect(back).toEqual(stored);
        const { _sync_id, _version, _created_at, _updated_at, ...user } = back as Record<string, unknown>;
        expect([_sync_id, _version, _created_at, _updated_at].every((v) => v !== undefined)).toBe(true);
        expect(user).toEqual(JSON.parse(snapshot));
        expect(JSON.stringify(input)).toBe(snapshot);
      }),
      { numRuns: 200 },
    );
  });
});
