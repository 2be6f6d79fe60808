import assert from 'node:assert/strict';
import net from 'node:net';
import { freePort } from '../../src/local/process';
import { parseCallbackSteps } from '../../bench/callback-steps';
import type { TestSystem } from '../support/system';
import { useSystemWithWorkerProcess } from '../support/worker-process';
import { startRefusingTemporal } from '../support/refusing-temporal';
import { eventually, waitForPhase } from '../support/waits';

describe('metrics and health endpoints', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  const startWorker = useSystemWithWorkerProcess((s) => (sys = s));

  it('exposes callback and worker metrics for Prometheus, and health for load balancers', async () => {
    const metricsPort = await freePort();
    await startWorker({ WORKER_METRICS_BIND: `127.0.0.1:${metricsPort}` });
    const { installation, event } = sys.simulator.createInstallation();
    await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl });
    await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl });
    await waitForPhase(sys.client, installation.id, 'active');

    const web = await (await fetch(`${sys.web.adminUrl}/metrics`)).text();
    assert.match(web, /appconnect_events_received_total\{type="app.installed",outcome="accepted"\} 1/);
    assert.match(web, /appconnect_events_received_total\{type="app.installed",outcome="duplicate"\} 1/);
    assert.match(web, /appconnect_callback_duration_seconds_count\{status="200"\} 2/);
    assert.match(web, /appconnect_dispatch_backlog 0/);
    // The bench reads these (bench/callback-steps.ts): the same parser, so a renamed metric fails here too.
    const steps = parseCallbackSteps(web);
    // Both deliveries stored (the duplicate's lookup too); the first alone handed over and marked.
    assert.deepEqual(Object.fromEntries(Object.entries(steps).map(([step, t]) => [step, t.count])), { store: 2, handover: 1, mark: 1 });
    for (const [step, t] of Object.entries(steps)) assert.ok(t.sum > 0, `${step} took some time`);

    const sdk = await eventually('worker metrics', async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return /temporal_activity_execution/.test(text) ? text : undefined;
    });
    assert.match(sdk, /temporal_workflow_completed|temporal_workflow_task_execution_latency/);

    assert.equal((await fetch(`${sys.web.url}/healthz`)).status, 200);
    const ready = await fetch(`${sys.web.adminUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', mongodb: true, temporal: true });
  });

  it('a WORKER_METRICS_BIND another process holds stops the worker process with exit code 2, naming the setting', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    try {
      await assert.rejects(startWorker({ WORKER_METRICS_BIND: `127.0.0.1:${port}` }), (err: Error) => {
        assert.match(err.message, /^worker process exited \(2\):/, err.message);
        assert.match(err.message, new RegExp(`worker failed: WORKER_METRICS_BIND=127\\.0\\.0\\.1:${port}: `), err.message);
        return true;
      });
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });

  it("the machine's own Temporal settings (a cloud account's API key and TLS in the shell) do not reach a test's worker process", async () => {
    const machine = { TEMPORAL_API_KEY: 'tk-machine-0123456789abcdef', TEMPORAL_TLS: 'true' };
    const saved = Object.fromEntries(Object.keys(machine).map((k) => [k, process.env[k]]));
    Object.assign(process.env, machine);
    try {
      // Started means connected: TLS to the plaintext dev server would end it "cannot be reached".
      const worker = await startWorker({ WORKER_METRICS_BIND: '' });
      assert.ok(!worker.output().includes(machine.TEMPORAL_API_KEY));
      await worker.kill();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('a Temporal the worker cannot reach stops it with a message naming TEMPORAL_ADDRESS', async () => {
    await assert.rejects(startWorker({ TEMPORAL_ADDRESS: '127.0.0.1:1', WORKER_METRICS_BIND: '' }), (err: Error) => {
      assert.match(err.message, /^worker process exited \(1\):/, err.message);
      assert.match(
        err.message,
        /worker failed: Temporal at 127\.0\.0\.1:1 \(TEMPORAL_ADDRESS, or the TEMPORAL_PROFILE's address\) cannot be reached: /,
      );
      return true;
    });
  });

  it('a Temporal that refuses the API key stops the worker with exit code 2, naming TEMPORAL_API_KEY and never quoting the key', async () => {
    // A key valid for the cluster, not the namespace: refused by the schedule's calls, or, without the schedule
    // (RECONCILE_ENABLED=false), by the worker's creation (the SDK checks the namespace).
    for (const [code, reconcile, answersSystemInfo] of [
      [16, 'true', false],
      [7, 'true', false],
      [7, 'true', true],
      [7, 'false', true],
    ] as const) {
      const refusing = await startRefusingTemporal(code, { answersSystemInfo });
      try {
        const key = `tk-bad-${code}-0123456789abcdef`;
        await assert.rejects(
          startWorker({
            TEMPORAL_ADDRESS: refusing.address,
            TEMPORAL_API_KEY: key,
            TEMPORAL_TLS: 'false',
            WORKER_METRICS_BIND: '',
            RECONCILE_ENABLED: reconcile,
          }),
          (err: Error) => {
            assert.match(err.message, /^worker process exited \(2\):/, err.message);
            assert.match(
              err.message,
              new RegExp(
                `worker failed: Temporal at ${refusing.address.replace(/\./g, '\\.')} refused this process's credentials for namespace default \\(TEMPORAL_API_KEY`,
              ),
            );
            assert.doesNotMatch(err.message, /cannot be reached/);
            assert.ok(!err.message.includes(key), 'the key is not in the output');
            return true;
          },
        );
      } finally {
        await refusing.close();
      }
    }
  });
});
