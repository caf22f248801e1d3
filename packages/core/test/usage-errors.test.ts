import { describe, expect, it } from 'vitest';
import { MemoryAdapter, Registry, TriangularStore, openStore } from '@cse/core';
import { memoryStore, rejection } from './helpers.js';

describe('usage errors point the right way', () => {
  it('saving for an unregistered worker type is VALIDATION naming registerCollection', async () => {
    const registry = new Registry();
    registry.registerWorkerType('container');
    const tri = new TriangularStore(memoryStore(), registry);
    for (const call of [
      () => tri.saveObserved('robot', 'r1', { up: true }),
      () => tri.saveDesired('robot', 'r1', { up: true }),
      () => tri.saveIdentity('robot', 'r1', { serial: 'x' }),
      () => tri.loadSnapshot('robot', 'r1'),
    ]) {
      const e = await rejection(call());
      expect(e.code).toBe('VALIDATION');
      expect(e.message).toMatch(/registerCollection/);
      expect(e.message).toMatch(/robot/);
    }
  });

  it('a half-registered worker type names the missing role', async () => {
    const registry = new Registry();
    registry.registerCollection('robot_identity', 'robot', 'identity');
    const tri = new TriangularStore(memoryStore(), registry);
    const e = await rejection(tri.saveObserved('robot', 'r1', { up: true }));
    expect(e.code).toBe('VALIDATION');
    expect(e.message).toMatch(/observed/);
  });

  it('openStore rejects a maxDocumentBytes that would disable the limit', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1, 0, 1.5, '1000', null]) {
      expect(() => openStore(new MemoryAdapter(), { maxDocumentBytes: bad as number }), String(bad)).toThrow(
        expect.objectContaining({ code: 'VALIDATION', message: expect.stringMatching(/maxDocumentBytes/) }),
      );
    }
    const store = openStore(new MemoryAdapter(), { maxDocumentBytes: 64 });
    return expect(store.insert('c', { id: 'a', text: 'x'.repeat(100) })).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('openStore rejects a clock that is not a function', () => {
    expect(() => openStore(new MemoryAdapter(), { clock: 'now' as never })).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
  });
});
