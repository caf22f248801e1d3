// The page of schema-upgrade.spec.ts: a Frontend of release ?v=1 or ?v=2 (schema.ts) with its
// replica on IndexedDB, following the Edge named in the URL (?edge=ws://...). It starts on load,
// so loading it again with another ?v is a new release opening the same replica.
import { Replica, openStore } from '@cse/core';
import { IndexedDbAdapter } from '@cse/adapter-indexeddb';
import { FrontendSync, OUTBOX_COLLECTION, webSocketConnector } from '@cse/sync';
import type { ReplicaUpgrade, WriteOutcome } from '@cse/sync';
import { registryAt } from './schema.js';

/** One replica document as the spec compares it: key `collection:id`, Edge sync id and version, status, `_schema`, user fields. */
export interface DumpedDoc {
  key: string;
  s: unknown;
  v: unknown;
  status: unknown;
  schema: unknown;
  body: Record<string, unknown>;
}

/** What the page shows the spec (read with `page.evaluate`). */
export interface SchemaPageState {
  release: number;
  status: string;
  started: boolean;
  error?: string;
  /** The cursors loaded from IndexedDB (and upgraded) at start, before this page load connected. */
  startCursors: Record<string, number>;
  cursors: Record<string, number>;
  updateRequired: string[];
  schemaUpgrades: ReplicaUpgrade[];
  pending: number;
  /** Every outcome this page load was told. */
  outcomes: WriteOutcome[];
}

export interface SchemaPage {
  state(): SchemaPageState;
  /** `saveDesired`; resolves with the write id once it is committed locally. */
  save(workerType: string, id: string, doc: Record<string, unknown>): Promise<string>;
  dump(): Promise<DumpedDoc[]>;
  /** The outbox entries (pending writes) as stored in IndexedDB. */
  outbox(): Promise<{ c: unknown; id: unknown; w: unknown; base: unknown; body: unknown }[]>;
}

const params = new URL(location.href).searchParams;
const release = Number(params.get('v') ?? '1');
const store = openStore(new IndexedDbAdapter({ name: 'cse-schema-replica' }));
const fe = new FrontendSync({
  store,
  registry: registryAt(release),
  connect: webSocketConnector(params.get('edge') as string),
  subscription: { workerTypes: ['pump', 'valve'] },
  backoff: { min: 20, max: 200 },
});
let started = false;
let error: string | undefined;
let startCursors: Record<string, number> = {};
const outcomes: WriteOutcome[] = [];
fe.onOutcome((o) => outcomes.push(o));

const api: SchemaPage = {
  state: () => ({
    release,
    status: fe.status,
    started,
    ...(error === undefined ? {} : { error }),
    startCursors,
    cursors: { ...fe.cursors },
    updateRequired: [...fe.updateRequired],
    schemaUpgrades: [...fe.schemaUpgrades],
    pending: fe.pending,
    outcomes: [...outcomes],
  }),
  async save(workerType, id, doc) {
    return (await fe.saveDesired(workerType, id, doc)).writeId;
  },
  async dump() {
    const out: DumpedDoc[] = [];
    for (const c of fe.collections) {
      for (const d of await store.find(c)) {
        const body = Object.fromEntries(Object.entries(d).filter(([k]) => !k.startsWith('_')));
        out.push({ key: `${c}:${d.id}`, s: d._edge_sync_id, v: d._edge_version, status: d._sync_status, schema: d._schema, body });
      }
    }
    return out;
  },
  async outbox() {
    return (await new Replica(store).scan(OUTBOX_COLLECTION))
      .filter((r) => !r.deleted)
      .map((r) => ({ c: r.doc.c, id: r.doc.docId, w: r.doc.w, base: r.doc.base, body: r.doc.body }));
  },
};
(window as unknown as { cseSchema: SchemaPage }).cseSchema = api;

fe.start().then(
  () => {
    startCursors = { ...fe.cursors };
    started = true;
  },
  (e: unknown) => {
    error = String(e);
  },
);
