// The documents every workload writes: an FSM worker's observed state (about 250 bytes of JSON).

export const WORKER_TYPE = 'container';
export const COLLECTION = 'container_observed';

export function observed(n) {
  return {
    state: n % 7 === 0 ? 'degraded' : 'running',
    temp: 20 + (n % 50) / 10,
    pressure: 1.2 + (n % 13) / 100,
    rpm: 1400 + (n % 100),
    uptimeSec: n,
    alarms: n % 11 === 0 ? ['overheat'] : [],
    labels: { site: 'plant-a', line: `L${n % 4}`, firmware: '4.2.1' },
    lastError: null,
  };
}

/** `count` fresh documents with ids `${prefix}${i}` (id inside, as Store.insert wants). */
export function batch(prefix, start, count) {
  const out = [];
  for (let i = start; i < start + count; i++) out.push({ id: `${prefix}${i}`, ...observed(i) });
  return out;
}
