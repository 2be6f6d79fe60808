import { DefaultLogger, Runtime } from '@temporalio/worker';
import { stopAllServers } from './servers';

// The SDK's INFO lines (worker state changes) drown the test report.
Runtime.install({ logger: new DefaultLogger('WARN') });

/** Mocha root hooks: whatever servers the suite started are stopped at the end. */
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopAllServers();
  },
};
