import path from 'node:path';
import { PROJECT_ROOT } from '../../src/local/tools';

/** Debian's chromium, driven through playwright-core (no browser download); `npm run setup` installs it. */
// `||`: an empty CHROMIUM_PATH counts as unset, as in scripts/setup.sh (`${CHROMIUM_PATH:-...}`).
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** Known to work here: no GPU, no sandbox (root), and nothing fetched from the internet. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Where the browser tests leave their screenshots. */
export const TEST_RESULTS_DIR = path.join(PROJECT_ROOT, 'test-results');
