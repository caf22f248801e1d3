import type { Browser, BrowserContext } from 'playwright';

/** Flags of every headless Chromium the tests and the bench start. */
export declare const CHROMIUM_ARGS: readonly string[];
/** The Chromium to drive: `CHROMIUM_PATH`, or Debian's `/usr/bin/chromium`. */
export declare function chromiumPath(): string;
/** Throws, saying how to install it, unless the Chromium of `chromiumPath()` can run; returns its path. */
export declare function assertChromium(what?: string): string;
/** Launches headless Chromium (`extraArgs` after the usual flags). */
export declare function launchChromium(options?: { extraArgs?: readonly string[] }): Promise<Browser>;
/** Launches headless Chromium on a persistent profile in `profileDir` (IndexedDB on disk). */
export declare function launchPersistentChromium(profileDir: string, options?: { extraArgs?: readonly string[] }): Promise<BrowserContext>;
/** Bundles the page in `root` into `outDir` with Vite (`@cse/*` from their TypeScript sources). */
export declare function buildPage(root: string, outDir: string, options?: { base?: string }): Promise<void>;
/** Serves the files of `dir` on a free 127.0.0.1 port; `url` is its index.html. */
export declare function serveDir(dir: string): Promise<{ readonly url: string; close(): Promise<void> }>;
/** Bundles the module `entry` for the browser with esbuild, in memory (`conditions` e.g. `['@cse/source']`). */
export declare function bundleScript(entry: string, options?: { conditions?: readonly string[] }): Promise<string>;
/** Serves `script` as /page.js behind a minimal HTML page (`url`) on a free 127.0.0.1 port. */
export declare function serveScript(script: string, title?: string): Promise<{ readonly url: string; close(): Promise<void> }>;
