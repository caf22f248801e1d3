import { MemoryAdapter, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { SecureEdge, SecureFrontend, memoryPair } from '@cse/sync';
import type { Dial, EdgeSync, Transport } from '@cse/sync';
import type { Edge } from './helpers.js';
import { memoryEdge } from './helpers.js';

export interface SecureEdgeFixture extends Edge {
  secure: SecureEdge;
}

export async function secureMemoryEdge(options: Partial<ConstructorParameters<typeof EdgeSync>[0]> = {}): Promise<SecureEdgeFixture> {
  const edge = memoryEdge(options);
  return { ...edge, secure: await SecureEdge.open({ store: edge.store }) };
}

/** Dials `edge` over an in-process pair; `wrap` may sit between the two ends (e.g. a hostile relay). */
export function secureDial(edge: () => { secure: SecureEdge; sync: EdgeSync } | undefined, wrap: (frontendEnd: Transport, edgeEnd: Transport) => [Transport, Transport] = (a, b) => [a, b]): Dial {
  return async () => {
    const e = edge();
    if (e === undefined) throw new Error('edge down');
    const [a, b] = memoryPair();
    const [fa, eb] = wrap(a, b);
    e.secure.serve(e.sync, eb);
    return fa;
  };
}

/** A Frontend store with a SecureFrontend paired to `edge`. */
export async function pairedFrontend(edge: SecureEdgeFixture, store: Store = openStore(new MemoryAdapter())): Promise<{ store: Store; secure: SecureFrontend }> {
  const secure = await SecureFrontend.open({ store });
  const { code } = await edge.secure.createPairingCode();
  await secure.pair(code, secureDial(() => edge));
  return { store, secure };
}
