// Child process: opens `clients` stores on one URL and has each increment a shared counter
// `increments` times (read, then update with expectedVersion, retried on conflict). Prints the
// sync ids its writes received, per client, as JSON.
import { openStore, withRetry } from '@cse/core';

const [url, clients, increments] = [process.argv[2] as string, Number(process.argv[3]), Number(process.argv[4])];

const results = await Promise.all(
  Array.from({ length: clients }, async () => {
    const store = await openStore(url);
    const ids: number[] = [];
    for (let i = 0; i < increments; i++) {
      const doc = await withRetry(
        async () => {
          const current = await store.get('counters', 'shared');
          if (current === undefined) throw new Error('the counter is missing');
          return store.update('counters', { id: 'shared', n: (current.n as number) + 1 }, { expectedVersion: current._version as number });
        },
        { retries: 100_000, baseDelayMs: 1, maxDelayMs: 5 },
      );
      ids.push(doc._sync_id as number);
    }
    await store.close();
    return ids;
  }),
);
process.stdout.write(JSON.stringify(results));
