import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
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

/**
 * Chromium for a browser test's `before` hook (pass its `this`): skipped, saying so, when SKIP_BROWSER_INSTALL=1 and
 * there is none; else a missing one fails the test, naming the fix. Headless, with `extraArgs` before CHROMIUM_ARGS.
 */
export async function launchChromium(hook: Mocha.Context, extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    if (process.env.SKIP_BROWSER_INSTALL === '1') {
      console.log(`      skipped: SKIP_BROWSER_INSTALL=1 and no chromium at ${CHROMIUM}`);
      hook.skip();
    }
    throw new Error(
      `chromium not found at ${CHROMIUM}: run "npm run setup" to install Debian's chromium (or set SKIP_BROWSER_INSTALL=1 to skip this test)`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...extraArgs, ...CHROMIUM_ARGS] });
}
