#!/usr/bin/env node
// The `cse-edge` command. This file ships in the repository (dist/ exists only after a build),
// so npm links the command at install time, in a clone too.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/edge-cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('cse-edge: @cse/sync is not built (dist/edge-cli.js is missing). In the CSE repository run `npm run build` first.\n');
  process.exit(2);
}
await import(cli.href);
