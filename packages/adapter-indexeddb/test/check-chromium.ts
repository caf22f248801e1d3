import { accessSync, constants } from 'node:fs';
import { chromiumPath } from './chromium-path.js';

/** Global setup of the browser project: a missing Chromium fails the run, it is never skipped. */
export default function checkChromium(): void {
  const path = chromiumPath();
  try {
    accessSync(path, constants.X_OK);
  } catch (e) {
    throw new Error(
      `the IndexedDB browser tests need Chromium at ${path}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`,
      { cause: e },
    );
  }
}
