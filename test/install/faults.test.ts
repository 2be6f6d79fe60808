import assert from 'node:assert/strict';
import { useSystem, type TestSystem } from '../support/system';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';
import { eventually, queryState, waitForPhase } from '../support/waits';

describe('install path under Talkdesk faults (dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));

  it('retries Talkdesk 500s with backoff and then succeeds', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    sys.simulator.failNext('account', 3, { status: 500 });
    const from = sys.simulator.calls.length;
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    await waitForPhase(sys.client, installation.id, 'active');
    // Injected faults answer before authentication, so they carry no installation id: this test's calls are the ones after `from`.
    const accountCalls = sys.simulator.calls.slice(from).filter((c) => c.route === 'account');
    assert.deepEqual(
      accountCalls.map((c) => c.status),
      [500, 500, 500, 200],
    );
    // FAST_OPTIONS back off 200, 400, 800 ms; the dev server fires timers with about a second of resolution.
    const total = accountCalls.at(-1)!.at.getTime() - accountCalls[0]!.at.getTime();
    assert.ok(total >= 1_400, `three backoffs took ${total} ms`);
    assert.equal(sys.simulator.stateCalls(installation.id).length, 1);
  });

  it('waits at least Retry-After after a 429 before calling again', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    sys.simulator.failNext('installationState', 1, { status: 429, retryAfterSeconds: 3 });
    const from = sys.simulator.calls.length;
    await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl });
    await waitForPhase(sys.client, installation.id, 'active');
    const calls = sys.simulator.calls.slice(from).filter((c) => c.route === 'installationState');
    assert.deepEqual(
      calls.map((c) => c.status),
      [429, 200],
    );
    const gap = calls[1]!.at.getTime() - calls[0]!.at.getTime();
    assert.ok(gap >= 3_000, `retried after ${gap} ms, Retry-After said 3000`);
  });

  it('retries the state check before a repeated approval instead of approving blind when Talkdesk answers it 500', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    // The approval takes effect at once but answers after the client's 3 s timeout; the first check answers 500.
    sys.simulator.failNext('installationState', 1, { delayMs: 4_500 });
    // The provisioning reads the installation once (its `created_by`) before the approval: that read is let through.
    sys.simulator.failNext('installation', 1, { delayMs: 0 });
    sys.simulator.failNext('installation', 1, { status: 500 });
    const from = sys.simulator.calls.length;
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    await waitForPhase(sys.client, installation.id, 'active', 60_000);
    await eventually('the late answer recorded', async () => (sys.simulator.stateCalls(installation.id).length > 0 ? true : undefined));
    assert.deepEqual(
      sys.simulator.calls
        .slice(from)
        .filter((c) => c.route === 'installation')
        .map((c) => c.status),
      [200, 500, 200],
    );
    assert.equal(sys.simulator.stateCalls(installation.id).length, 1, 'approved once');
  });

  it('shows the last error and attempt count in the state query while retrying', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    sys.simulator.failNext('account', 3, { status: 503 });
    await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl });
    const seen = await eventually('the state query to show a retrying step', async () => {
      const view = await queryState(sys.client, installation.id);
      return view.attempts >= 2 && view.lastError ? view : undefined;
    });
    assert.match(seen.lastError ?? '', /provision the partner account.*503/);
    await waitForPhase(sys.client, installation.id, 'active');
  });

  it('rejects the installation with a reason when provisioning cannot succeed', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    sys.simulator.failNext('licensedUsers', 1, { status: 404, body: { code: 'not_found', message: 'gone' } });
    await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl });
    const view = await waitForPhase(sys.client, installation.id, 'rejected');
    const calls = sys.simulator.stateCalls(installation.id);
    assert.equal(calls.length, 1);
    const body = calls[0]?.body as { state: string; reason: string };
    assert.equal(body.state, 'reject');
    // Talkdesk's admin reads the failure's type; the operator's message, with the 404, stays in the history.
    assert.equal(
      body.reason,
      "Provisioning failed: the app's service could not complete it (TalkdeskNotFound). Contact the app's provider.",
    );
    const ended = view.history.at(-1);
    assert.equal(ended?.result, 'rejected');
    assert.match(ended?.detail ?? '', /^Provisioning failed: .*404/);
    assert.ok(ended?.outcome?.includes(`(rejection sent: "${body.reason}")`), ended?.outcome);
    assert.equal(await sys.store.accounts.accounts.countDocuments({ installationId: installation.id }), 0, 'nothing stays provisioned');
    const creds = await sys.store.credentials.list(installation.id);
    assert.ok(creds.length > 0 && creds.every((c) => c.status === 'destroyed' && c.secret === undefined), 'the set kept, destroyed');
  });
});

describe('a worker killed during provisioning (worker process, SIGKILL)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let workers: WorkerProcess[] = [];
  useSystem(
    (s) => (sys = s),
    { inProcessWorker: false },
    async () => {
      for (const w of workers) await w.kill();
    },
  );

  it('completes the install after a restart without duplicating anything', async () => {
    workers.push(await startWorkerProcess(sys.workerProcessEnv));
    const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 30 });
    // The licensed-users page answers late: the worker dies while provisioning, its request arrived and unanswered.
    sys.simulator.failNext('licensedUsers', 1, { delayMs: 4_000 });
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    await eventually('the licensed-users read to arrive', async () =>
      sys.simulator.calls.some((c) => c.route === 'licensedUsers' && c.installationId === installation.id) ? true : undefined,
    );
    await workers[0]!.kill();
    assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'installing', 'killed before the approval');
    assert.deepEqual(sys.simulator.stateCalls(installation.id), []);
    workers = [await startWorkerProcess(sys.workerProcessEnv)];
    const view = await waitForPhase(sys.client, installation.id, 'active', 60_000);
    assert.equal(view.accountId, event.data.account_id);
    assert.equal(await sys.store.accounts.accounts.countDocuments({ _id: event.data.account_id }), 1);
    assert.equal((await sys.store.accounts.listUsers(event.data.account_id)).length, 30);
    assert.equal(sys.simulator.stateCalls(installation.id).length, 1, 'approved exactly once');
    assert.equal(view.history.at(-1)?.result, 'approved');
  });

  it('does not approve twice when the worker dies after Talkdesk acted on the approval', async () => {
    if (workers.length === 0) workers.push(await startWorkerProcess(sys.workerProcessEnv));
    const { installation, event } = sys.simulator.createInstallation();
    // The approval takes effect at Talkdesk at once; its answer comes too late for the worker that sent it.
    sys.simulator.failNext('installationState', 1, { delayMs: 4_000 });
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    await eventually('the approval sent', async () =>
      sys.simulator.getInstallation(installation.id)?.state === 'completed' ? true : undefined,
    );
    for (const w of workers) await w.kill();
    workers = [await startWorkerProcess(sys.workerProcessEnv)];
    const view = await waitForPhase(sys.client, installation.id, 'active', 60_000);
    assert.equal(view.history.at(-1)?.result, 'approved');
    assert.equal(sys.simulator.stateCalls(installation.id).length, 1, 'the retry read the state and did not send the approval again');
    // Besides the provisioning's read of `created_by`, the retried approval read the state.
    assert.ok(sys.simulator.calls.filter((c) => c.route === 'installation' && c.installationId === installation.id).length >= 2);
  });
});
