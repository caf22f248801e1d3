// The Chromium of the browser tests: one definition for every suite, in test-support/chromium.js.
export { chromiumPath } from '../../../test-support/chromium.js';
