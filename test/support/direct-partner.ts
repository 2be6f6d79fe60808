import { createLogger } from '../../src/logging/logger';
import { HttpProvisioner } from '../../src/partner';
import { startActivityHarness, type ActivityHarness } from './activity-harness';
import { TestPartnerServer } from './partner-server';

/** A test partner and the HTTP provisioner calling it directly, its calls kept in FerretDB (an activity harness). */
export interface DirectPartner {
  h: ActivityHarness;
  partner: HttpProvisioner;
  server: TestPartnerServer;
}

/** Started before the suite's tests and stopped after them; its fields are set once `before` ran. */
export function useDirectPartner(secret: string, timeoutMs = 5_000): DirectPartner {
  const server = new TestPartnerServer([secret]);
  const env = { server } as DirectPartner;
  before(async () => {
    await server.start();
    env.h = await startActivityHarness();
    env.partner = new HttpProvisioner({
      url: server.url,
      secrets: [secret],
      timeoutMs,
      pageSize: 50,
      calls: env.h.store.partnerCalls,
      logger: createLogger({ level: 'silent' }),
    });
  });
  after(async () => {
    await env.h?.close();
    await server.stop();
  });
  return env;
}
