#!/usr/bin/env node
// The `cse-conformance` command. This file ships in the repository (dist/ exists only after a
// build), so npm links the command at install time, in a clone too.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    'cse-conformance: @cse/conformance is not built (dist/cli.js is missing). In the CSE repository run `npm run conformance -- --adapter sqlite` (it builds first), or `npm run build` and then `npx cse-conformance ...`.\n',
  );
  process.exit(2);
}
await import(cli.href);
