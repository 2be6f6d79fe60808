import assert from 'node:assert/strict';
import { MongoProvisioner } from '../../src/partner';
import type { PartnerProvisioner } from '../../src/partner/provisioner';
import { useSystem, type TestSystem } from '../support/system';
import { eventually, waitForPhase } from '../support/waits';

/**
 * A worker asked to stop (SIGTERM: a deploy, a scale-down) lets its running activities finish for
 * WORKER_SHUTDOWN_GRACE_SECONDS. With the SDK's default (0) a partner call under way was cancelled at
 * once: aborted mid-request, the attempt failed, and the call sent again by the next worker.
 */
describe('a stopping worker lets a running partner call finish (dev server, FerretDB, simulator)', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  const calls: { began: number; aborted?: boolean; ended?: number }[] = [];
  useSystem((s) => (sys = s), {
    workerShutdownGraceMs: 10_000,
    partner: (store): PartnerProvisioner => {
      const mongo = new MongoProvisioner(store);
      return Object.assign(Object.create(mongo) as PartnerProvisioner, {
        kind: 'slow-partner',
        async provision(...args: Parameters<PartnerProvisioner['provision']>) {
          const call: (typeof calls)[number] = { began: Date.now() };
          calls.push(call);
          // A partner taking its time (2 s) to provision, cancellable as a hook request is.
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 2_000);
            args[1].signal.addEventListener('abort', () => (clearTimeout(timer), (call.aborted = true), resolve()));
          });
          call.ended = Date.now();
          return mongo.provision(...args);
        },
      });
    },
  });

  it('the provision under way when the worker stops completes; the next worker approves without calling the partner again', async () => {
    const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 1 });
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    await eventually('the partner provisioning', async () => (calls.length > 0 ? true : undefined));
    await sys.stopWorker();
    assert.deepEqual(
      calls.map((c) => c.aborted ?? false),
      [false],
      'not cancelled by the shutdown',
    );
    assert.ok(calls[0]?.ended, 'the call ended before the worker stopped');
    await sys.startWorker();
    await waitForPhase(sys.client, installation.id, 'active');
    assert.equal(calls.length, 1, 'provisioned once');
  });
});
