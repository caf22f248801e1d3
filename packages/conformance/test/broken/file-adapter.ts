/**
 * A small file-backed adapter for the self-test of the crash group: an append-only log of JSON
 * lines in `${dir}/${storeName}.log`. Each commit is one line written with one synchronous
 * `write` before the promise resolves; a line torn by a kill fails to parse and is dropped at
 * load, so a commit is whole or absent. (Survives SIGKILL, not power loss: no fsync.)
 *
 * Faults: `ackEarly` resolves the commit before the line is written (acknowledged writes are
 * lost by a kill); `torn` writes one line per record with pauses in between (a kill tears a
 * commit apart).
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AdapterCapabilities, CommitRequest, CommitResult, DocKey, SequenceState, StorageAdapter, StoredRecord } from '@cse/core';
import { ClosedError, defineCapabilities, docKeyString, planCommit } from '@cse/core';

export type FileFault = 'none' | 'ackEarly' | 'torn';

interface Line {
  readonly records: StoredRecord[];
  readonly lastSyncId: number;
}

function copy(r: StoredRecord): StoredRecord {
  return { ...r, doc: structuredClone(r.doc) };
}

export class FileAdapter implements StorageAdapter {
  readonly capabilities: Readonly<AdapterCapabilities> = defineCapabilities({ persistent: true, crashSafe: true });
  readonly #path: string;
  readonly #fault: FileFault;
  readonly #records = new Map<string, StoredRecord>();
  #lastSyncId = 0;
  #closed = false;

  constructor(path: string, fault: FileFault) {
    this.#path = path;
    this.#fault = fault;
    if (!existsSync(path)) return;
    for (const text of readFileSync(path, 'utf8').split('\n')) {
      let line: Line;
      try {
        line = JSON.parse(text) as Line;
      } catch {
        continue; // a line torn by a kill
      }
      for (const r of line.records) this.#records.set(docKeyString(r.collection, r.id), r);
      this.#lastSyncId = Math.max(this.#lastSyncId, line.lastSyncId);
    }
  }

  #open(): void {
    if (this.#closed) throw new ClosedError('the file adapter is closed');
  }

  #append(line: Line): void {
    appendFileSync(this.#path, `${JSON.stringify(line)}\n`);
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    this.#open();
    const prevs = request.writes.map((w) => this.#records.get(docKeyString(w.collection, w.id)));
    const { result, lastSyncId } = planCommit(request, prevs, this.#lastSyncId);
    if (!result.ok) return result;
    for (const r of result.records) this.#records.set(docKeyString(r.collection, r.id), copy(r));
    this.#lastSyncId = lastSyncId;
    if (this.#fault === 'ackEarly') {
      const line = { records: result.records.map(copy), lastSyncId };
      setTimeout(() => {
        try {
          this.#append(line);
        } catch {
          // The run's directory may be gone by now; the write is lost either way.
        }
      }, 30);
    } else if (this.#fault === 'torn') {
      for (const r of result.records) {
        this.#append({ records: [r], lastSyncId: r.syncId });
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    } else {
      this.#append({ records: [...result.records], lastSyncId });
    }
    return { ok: true, records: result.records.map(copy) };
  }

  async getMany(keys: readonly DocKey[]): Promise<(StoredRecord | undefined)[]> {
    this.#open();
    return keys.map((k) => {
      const r = this.#records.get(docKeyString(k.collection, k.id));
      return r && copy(r);
    });
  }

  async scanCollection(collection: string): Promise<StoredRecord[]> {
    this.#open();
    return [...this.#records.values()].filter((r) => r.collection === collection).map(copy);
  }

  async changes(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): Promise<StoredRecord[]> {
    this.#open();
    return [...this.#records.values()]
      .filter((r) => r.syncId > after && (options.collections === undefined || options.collections.includes(r.collection)))
      .sort((a, b) => a.syncId - b.syncId)
      .slice(0, options.limit)
      .map(copy);
  }

  async listCollections(): Promise<string[]> {
    this.#open();
    return [...new Set([...this.#records.values()].map((r) => r.collection))].sort();
  }

  async sequence(): Promise<SequenceState> {
    this.#open();
    return { lastSyncId: this.#lastSyncId, compactedThrough: 0 };
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

export function fileFactory(fault: FileFault): (storeName: string, ctx: { dir: string }) => StorageAdapter {
  return (storeName, { dir }) => new FileAdapter(join(dir, `${storeName}.log`), fault);
}
