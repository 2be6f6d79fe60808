import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startBenchSystem } from '../../bench/system';
import type { BenchSystem } from '../../bench/system';
import { monitorWedged, serverUnknown, wedgeMonitor } from '../support/mongo-wedge';
import { eventually } from '../support/waits';

/**
 * The bench's own store client reads for the soak (its waiter and end checks). A CI soak once saw every
 * installation stall after the FerretDB restart while the service ran on: this client, unwatched then,
 * had been left stuck by the driver fault the service's processes are watched for (src/store/watchdog.ts).
 */
describe('bench: its own store client after a FerretDB restart', function () {
  this.timeout(150_000);
  let sys: BenchSystem | undefined;

  after(async () => {
    await sys?.stop();
  });

  it('is reconnected when the restart leaves it stuck (the monitor wedged), and says so in bench.log', async () => {
    sys = await startBenchSystem({ workerProcesses: 0, startWorkers: false, tuning: {}, web: 'in-process' });
    const s = sys;
    await s.store.ping();
    await wedgeMonitor(s.store.db.client);
    // Every socket is reset at once, as in the soak: an operation failing meanwhile marks the server unknown.
    const restarted = s.mongo.restart(1_000);
    await eventually('the bench client to mark its server unknown', async () => {
      if (serverUnknown(s.store.db.client)) return true;
      await s.store.ping().catch(() => undefined);
      return undefined;
    });
    // Asked at once (the watchdog reconnects 10 s or more later): the fault is in place.
    assert.ok(monitorWedged(s.store.db.client), 'the monitor still wedged');
    await restarted;
    // The watchdog: failing 10 s, a new client answers, the verdict holds two rounds, then the client is reconnected.
    await eventually(
      'the bench client to answer again',
      () =>
        s.store.ping().then(
          () => true,
          () => undefined,
        ),
      90_000,
    );
    const log = readFileSync(path.join(s.logsDir, 'bench.log'), 'utf8');
    assert.match(log, /the store answers a new connection but not this process: reconnecting its client/);
  });
});
