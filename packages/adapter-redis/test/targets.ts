import { RedisAdapter } from '@cse/adapter-redis';
import { namespaceFor, serverUrl } from './factory.js';

/** The two deployments every adapter-specific test runs on. */
export const targets = [
  { name: 'single server', variable: 'REDIS_URL', cluster: false },
  { name: 'cluster', variable: 'REDIS_CLUSTER_URL', cluster: true },
] as const;

export type Target = (typeof targets)[number];

let counter = 0;
/** A namespace no other test uses. */
export function freshNamespace(label: string): string {
  return namespaceFor(`${label}-${process.pid}-${++counter}`);
}

/** A store URL for `namespace` on `target`. */
export function storeUrl(target: Target, namespace: string): string {
  const url = new URL(serverUrl(target.variable));
  url.searchParams.set('namespace', namespace);
  if (target.cluster) url.searchParams.set('cluster', 'true');
  return url.toString();
}

/** A new adapter on `target` (it owns its client). */
export function adapterOn(target: Target, namespace: string): RedisAdapter {
  return new RedisAdapter({ url: serverUrl(target.variable), cluster: target.cluster, namespace });
}
