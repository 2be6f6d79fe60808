import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { TEST_RESULTS_DIR, launchChromium } from '../support/chromium';
import { workflowIdFor } from '../../workflows/definitions';
import { temporalDevEnvWithUi, type TemporalUiEnv } from '../support/servers';
import { startSystem, type TestSystem } from '../support/system';
import { eventually, waitForPhase } from '../support/waits';

/**
 * The operators' view: the dev server's real Temporal Web UI, driven in Debian's headless
 * Chromium through playwright-core (no browser download). `npm run setup` installs chromium.
 */
const SCREENSHOT = path.join(TEST_RESULTS_DIR, 'temporal-ui.png');

/** Polls a locator's text until it contains every expected string. */
async function textContaining(what: string, locator: Locator, expected: string[], timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  for (;;) {
    text = (await locator.innerText({ timeout: 2_000 }).catch(() => '')).replace(/\s+/g, ' ');
    if (expected.every((e) => text.includes(e))) return text;
    if (Date.now() > deadline) {
      const missing = expected.filter((e) => !text.includes(e));
      throw new Error(`${what}: missing ${JSON.stringify(missing)} in ${JSON.stringify(text.slice(0, 600))}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('Temporal Web UI: an installation found and read in headless Chromium', function () {
  // A fresh dev server with its UI and Chromium start in the hook; the test's waits add up on a loaded machine.
  this.timeout(180_000);
  let ui: TemporalUiEnv | undefined;
  let sys: TestSystem | undefined;
  let browser: Browser | undefined;

  before(async function () {
    browser = await launchChromium(this);
    mkdirSync(TEST_RESULTS_DIR, { recursive: true });
    ui = await temporalDevEnvWithUi();
    sys = await startSystem({ env: ui.env });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await sys?.close();
    await ui?.teardown();
  });

  it('lists it by TalkdeskAccountName and shows its phase, summary and current details', async () => {
    assert.ok(sys && ui && browser);
    const suffix = Date.now().toString(36);
    const accountName = `UiOps-${suffix}`;
    // A second installation of another account: the query must filter it out.
    const target = sys.simulator.createInstallation({ accountName });
    const other = sys.simulator.createInstallation({ accountName: `UiOther-${suffix}` });
    for (const { event } of [target, other]) {
      assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    }
    const client = sys.client;
    await Promise.all([target, other].map(({ installation }) => waitForPhase(client, installation.id, 'active')));
    const workflowId = workflowIdFor(target.installation.id);
    const otherWorkflowId = workflowIdFor(other.installation.id);

    const page: Page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    try {
      // 1. The workflows list, filtered by the visibility query in the address (`?query=`, UI 2.54).
      const query = `TalkdeskAccountName="${accountName}"`;
      const listUrl = `${ui.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`;
      // The page lists what visibility knows when it loads (and does not reload): wait until it knows the workflow.
      await eventually('visibility to list the workflow by account name', async () => {
        for await (const w of client.workflow.list({ query })) if (w.workflowId === workflowId) return true;
        return undefined;
      });
      await page.goto(listUrl);
      const row = page.getByRole('link', { name: workflowId, exact: true });
      await row.first().waitFor({ timeout: 20_000 });
      assert.equal(await page.getByRole('link', { name: otherWorkflowId, exact: true }).count(), 0, 'the query filters by account name');
      await textContaining('the list page', page.locator('main'), ['1 Workflow', accountName]);

      // 2. Open it: the header names the workflow.
      await row.first().click();
      await page.waitForURL(new RegExp(`/workflows/${workflowId}/[^/]+/`), { timeout: 15_000 });
      await textContaining('the workflow page', page.locator('main'), [workflowId, 'installationWorkflow']);

      // 3. Search attributes: the phase and the account, as operators filter on them.
      await page.getByRole('tab', { name: 'Search Attributes' }).click();
      await textContaining('the search attributes tab', page.locator('main'), [
        '"InstallationPhase": "active"',
        `"TalkdeskAccountName": "${accountName}"`,
        `"TalkdeskAccountId": "${target.event.data.account_id}"`,
      ]);

      // 4. User metadata: the static summary and details, and the workflow's current details.
      //    The UI renders each as markdown in an iframe of its own.
      await page.getByRole('tab', { name: 'User Metadata' }).click();
      await textContaining('the summary', page.frameLocator('#user-metadata-summary').locator('body'), [
        `Talkdesk installation ${target.installation.id} (${accountName})`,
      ]);
      await textContaining('the details', page.frameLocator('#user-metadata-details').locator('body'), [
        `in Talkdesk account ${target.event.data.account_id}`,
      ]);
      await textContaining('the current details', page.frameLocator('#user-metadata-current-details').locator('body'), [
        'Phase: active.',
        'Waiting for the next Talkdesk event.',
      ]);
      const current = await page.frameLocator('#user-metadata-current-details').locator('body').innerText();
      assert.ok(!current.includes('Now:'), `an idle installation names no running step: ${current}`);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    } catch (err) {
      await page.screenshot({ path: path.join(TEST_RESULTS_DIR, 'temporal-ui-failure.png'), fullPage: true }).catch(() => undefined);
      throw err;
    } finally {
      await page.close().catch(() => undefined);
    }
  });
});
