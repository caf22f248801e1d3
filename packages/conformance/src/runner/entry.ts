/**
 * The test file `cse-conformance` hands to Vitest: it loads the factory module named in the
 * environment and registers the suite for it.
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runConformance } from '../index.js';
import type { OpenAdapter } from '../options.js';

const module = process.env.CSE_CONFORMANCE_MODULE;
const name = process.env.CSE_CONFORMANCE_NAME ?? module ?? 'adapter';
if (module === undefined) throw new Error('CSE_CONFORMANCE_MODULE is not set (this file is run by cse-conformance)');
const url = isAbsolute(module) ? pathToFileURL(module).href : module;
const loaded = (await import(/* @vite-ignore */ url)) as { open?: unknown; default?: unknown };
const open = loaded.open ?? (loaded.default as { open?: unknown } | undefined)?.open ?? loaded.default;
if (typeof open !== 'function') throw new Error(`${module} exports no function "open" (storeName, { dir }) => StorageAdapter`);

runConformance({ name, open: open as OpenAdapter, module });
