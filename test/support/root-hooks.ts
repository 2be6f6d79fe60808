import { DefaultLogger, Runtime } from '@temporalio/worker';
import { stopAllServers } from './servers';

// The SDK's INFO and WARN lines (worker states, every failed activity attempt, the time-skipping
// server's missing heartbeat-details capability) drown the test report.
Runtime.install({
  logger: new DefaultLogger('ERROR'),
  telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
});

/** Mocha root hooks: whatever servers the suite started are stopped at the end. */
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopAllServers();
  },
};
