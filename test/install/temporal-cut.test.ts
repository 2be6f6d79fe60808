import assert from 'node:assert/strict';
import type { TestSystem } from '../support/system';
import { hostPort, startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { eventually, waitForPhase } from '../support/waits';
import { useSystemWithWorkerProcess } from '../support/worker-process';
import { workflowIdFor } from '../../workflows/definitions';

/**
 * The worker stays up while Temporal goes away under it (the production worker as a process, its Temporal connection
 * through a proxy that cuts it): the approval it was sending lands at Talkdesk, the server times that attempt out, and
 * once Temporal is back the same worker retries it, reads Talkdesk first, and sends nothing again.
 */
describe('a worker cut off from Temporal mid-activity (worker process, Temporal behind a proxy)', function () {
  this.timeout(180_000);
  let sys: TestSystem;
  let proxy: TcpProxy | undefined;
  const startWorker = useSystemWithWorkerProcess((s) => (sys = s));
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it('the approval under way is sent once; Temporal back, the install completes on the same worker process', async () => {
    const { host, port } = hostPort(sys.workerProcessEnv.TEMPORAL_ADDRESS ?? '');
    proxy = await startTcpProxy(host, port);
    // The worker's Talkdesk calls wait longer than the approval's answer is held: the attempt cannot end (and report)
    // before the cut; only the server's heartbeat timeout (5 s) ends it.
    const worker = await startWorker({ TEMPORAL_ADDRESS: proxy.address, TALKDESK_HTTP_TIMEOUT_MS: '20000' });
    const { installation, event } = sys.simulator.createInstallation();
    const id = installation.id;
    // The approval takes effect at Talkdesk at once; its answer is held long past the cut.
    sys.simulator.failNext('installationState', 1, { delayMs: 15_000 });
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    await eventually('the approval sent', async () => (sys.simulator.getInstallation(id)?.state === 'completed' ? true : undefined));
    proxy.block();
    const handle = sys.client.workflow.getHandle(workflowIdFor(id));
    // The server (reached directly) times the attempt out: its worker, cut off, can report nothing (the workflow's
    // retry of it waits for a workflow task the worker cannot take either).
    await eventually(
      'the approval attempt timed out at the server',
      async () => {
        const events = (await handle.fetchHistory()).events ?? [];
        const typeOf = (scheduled: unknown) =>
          events.find((e) => String(e.eventId) === String(scheduled))?.activityTaskScheduledEventAttributes?.activityType?.name;
        const timedOut = events.map((e) => e.activityTaskTimedOutEventAttributes).filter((a) => a);
        return timedOut.some((a) => typeOf(a?.scheduledEventId) === 'setInstallationState') ? true : undefined;
      },
      60_000,
    );
    proxy.unblock();
    const view = await waitForPhase(sys.client, id, 'active', 90_000);
    assert.equal(view.history.at(-1)?.result, 'approved');
    assert.equal(sys.simulator.stateCalls(id).length, 1, 'the retried approval read Talkdesk first and sent nothing');
    const running = worker.child.exitCode === null && worker.child.signalCode === null;
    assert.ok(running, `the worker process is still running:\n${worker.output().slice(-2000)}`);
  });
});
