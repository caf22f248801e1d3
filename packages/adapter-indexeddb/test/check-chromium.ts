import { assertChromium } from '../../../test-support/chromium.js';

/** Global setup of the browser project: a missing Chromium fails the run, it is never skipped. */
export default function checkChromium(): void {
  assertChromium('the IndexedDB browser tests');
}
