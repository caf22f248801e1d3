import { basename } from 'node:path';
import type { StorageAdapter } from '@cse/core';
import { RedisAdapter } from '@cse/adapter-redis';

/** The URL of a test server from the environment (set by global-setup.ts); throws the setup error if there is none. */
export function serverUrl(variable: 'REDIS_URL' | 'REDIS_CLUSTER_URL' | 'REDIS_CONFORMANCE_URL' | 'REDIS_CONFORMANCE_CLUSTER_URL' = 'REDIS_URL'): string {
  const url = process.env[variable];
  if (url === undefined) throw new Error(process.env.CSE_REDIS_SETUP_ERROR ?? `${variable} is not set (the vitest globalSetup sets it)`);
  return url;
}

/**
 * The namespace for `storeName` in this test run (and this conformance run, named by its
 * directory), so runs never meet on a shared server.
 */
export function namespaceFor(storeName: string, ctx?: { dir: string }): string {
  const suite = ctx === undefined ? '' : `${basename(ctx.dir)}:`;
  return `cse-test-${process.env.CSE_REDIS_RUN ?? 'local'}:${suite}${storeName}`;
}

/** Opens (or reopens) the store `storeName` on the plain test server. */
export function open(storeName: string, ctx?: { dir: string }): StorageAdapter {
  return new RedisAdapter({ url: serverUrl(), namespace: namespaceFor(storeName, ctx) });
}
