import { describe, expect, it } from 'vitest';
import { compareJson } from '@cse/core';
import { memoryStore, rejection } from './helpers.js';

async function seeded() {
  const store = memoryStore();
  const docs = [
    { id: 'a', n: 1, tag: ['x', 'y'], s: { phase: 'running', cpu: 0.5 } },
    { id: 'b', n: 2.0, tag: ['y'], s: { phase: 'stopped', cpu: 0.1 } },
    { id: 'c', n: 'two', s: { phase: 'running', cpu: 0.9 } },
    { id: 'd', n: null },
    { id: 'e', n: true, s: { phase: 'running' } },
  ];
  for (const d of docs) await store.insert('w', d);
  return store;
}

const ids = (docs: { id: string }[]) => docs.map((d) => d.id);

describe('query language', () => {
  it('equality by value: 1 equals 1.0, literal means $eq', async () => {
    const store = await seeded();
    expect(ids(await store.find('w', { filter: { n: 1.0 } }))).toEqual(['a']);
    expect(ids(await store.find('w', { filter: { n: { $eq: 2 } } }))).toEqual(['b']);
    expect(ids(await store.find('w', { filter: { n: { $ne: 2 } } }))).toEqual(['a', 'c', 'd', 'e']);
  });

  it('range operators compare within the operand type only', async () => {
    const store = await seeded();
    expect(ids(await store.find('w', { filter: { n: { $gt: 1 } } }))).toEqual(['b']);
    expect(ids(await store.find('w', { filter: { n: { $gte: 1, $lt: 2 } } }))).toEqual(['a']);
    expect(ids(await store.find('w', { filter: { n: { $lte: 'zzz' } } }))).toEqual(['c']);
  });

  it('$in, $nin, $exists, arrays and dotted paths', async () => {
    const store = await seeded();
    expect(ids(await store.find('w', { filter: { n: { $in: [1, 'two'] } } }))).toEqual(['a', 'c']);
    expect(ids(await store.find('w', { filter: { n: { $nin: [1, 'two'] } } }))).toEqual(['b', 'd', 'e']);
    expect(ids(await store.find('w', { filter: { tag: 'x' } }))).toEqual(['a']);
    expect(ids(await store.find('w', { filter: { tag: { $in: ['y'] } } }))).toEqual(['a', 'b']);
    expect(ids(await store.find('w', { filter: { 's.phase': 'running', 's.cpu': { $gte: 0.5 } } }))).toEqual(['a', 'c']);
    expect(ids(await store.find('w', { filter: { 's.cpu': { $exists: false } } }))).toEqual(['d', 'e']);
    expect(ids(await store.find('w', { filter: { 'tag.1': 'y' } }))).toEqual(['a']);
    expect(ids(await store.find('w', { filter: { _version: 1 } }))).toHaveLength(5);
  });

  it('sorts mixed types by the documented total order, ties by id, with skip and limit', async () => {
    const store = await seeded();
    expect(ids(await store.find('w', { sort: [{ field: 'n' }] }))).toEqual(['d', 'e', 'a', 'b', 'c']);
    expect(ids(await store.find('w', { sort: [{ field: 'n', order: 'desc' }] }))).toEqual(['c', 'b', 'a', 'e', 'd']);
    expect(ids(await store.find('w', { sort: [{ field: 's.cpu', order: 'desc' }], skip: 1, limit: 2 }))).toEqual(['a', 'b']);
  });

  it('the total order: missing < null < false < true < numbers < strings < arrays < objects', () => {
    const order = [undefined, null, false, true, -1, 0, 1.5, '', 'a', 'b', [], [1], [1, 2], {}, { a: 1 }, { b: 0 }];
    for (let i = 0; i < order.length; i++) {
      for (let j = 0; j < order.length; j++) {
        expect(Math.sign(compareJson(order[i] as never, order[j] as never)), `${i} vs ${j}`).toBe(Math.sign(i - j));
      }
    }
    expect(compareJson('\u{1F600}', '\uFFFF')).toBe(1); // code point order, not UTF-16 units
  });

  it('has no hidden result cap', async () => {
    const store = memoryStore();
    await store.transaction(async (tx) => {
      for (let i = 0; i < 2500; i++) await tx.insert('many', { id: `d${i}`, i });
    });
    expect(await store.find('many')).toHaveLength(2500);
    expect(await store.find('many', { filter: { i: { $gte: 100 } } })).toHaveLength(2400);
  });

  it('malformed queries are VALIDATION errors', async () => {
    const store = await seeded();
    const bad: unknown[] = [
      { filter: { n: { $regex: 'x' } } },
      { filter: { $or: [] } },
      { filter: { n: { $in: 1 } } },
      { filter: { n: { $exists: 'yes' } } },
      { filter: { n: { $gt: 1, plain: 2 } } },
      { filter: { '': 1 } },
      { filter: { 'a..b': 1 } },
      { sort: [{ field: 'n', order: 'up' }] },
      { sort: 'n' },
      { limit: -1 },
      { skip: 1.5 },
      { where: {} },
      { filter: { n: { $eq: Number.NaN } } },
    ];
    for (const q of bad) expect((await rejection(store.find('w', q as never))).code, JSON.stringify(q)).toBe('VALIDATION');
  });
});
