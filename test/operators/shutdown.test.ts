import assert from 'node:assert/strict';
import { startSystem, type TestSystem } from '../support/system';
import { eventually, waitForPhase } from '../support/waits';

/**
 * The web's SIGTERM path (src/web/server.ts close()): /readyz answers 503 at once, requests
 * are still taken for WEB_SHUTDOWN_DELAY_SECONDS (load balancers move first), then the
 * listener closes; a second close waits for the first.
 */
describe('web shutdown: readiness first, then the listener', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  before(async () => {
    sys = await startSystem({ webShutdownDelayMs: 4_000 });
  });
  after(async () => {
    await sys?.close();
  });

  it('answers /readyz 503 "stopping" and still accepts events during the delay; refuses connections after', async () => {
    assert.equal((await fetch(`${sys.web.adminUrl}/readyz`)).status, 200);
    const closing = sys.web.close();
    const ready = await fetch(`${sys.web.adminUrl}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'stopping' });
    assert.equal((await fetch(`${sys.web.url}/healthz`)).status, 200);
    // Talkdesk's delivery in the meantime is still taken, stored and handed over (well inside the 4 s).
    const { installation, event } = sys.simulator.createInstallation();
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    const again = sys.web.close();
    await closing;
    await again;
    await assert.rejects(
      fetch(`${sys.web.url}/healthz`),
      (err: unknown) => /ECONNREFUSED/.test(String((err as { cause?: { code?: string } }).cause?.code)),
      'the listener is closed',
    );
    await waitForPhase(sys.client, installation.id, 'active');
    await eventually('the approval', async () => sys.simulator.getInstallation(installation.id)?.state === 'completed' || undefined);
  });
});
