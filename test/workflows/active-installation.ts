import type { InstallationOptions } from '../../workflows/options';
import { clientIdFor, type ActivityStubs, type InstallationUnderTest } from './harness';

type Start = (stubs?: ActivityStubs, options?: Partial<InstallationOptions>) => Promise<InstallationUnderTest>;

/** An installation made active by its install event; returns it with the install's client id. */
export async function activeInstallation(start: Start, stubs?: ActivityStubs, options: Partial<InstallationOptions> = {}) {
  const t = await start(stubs, options);
  const install = t.event('app.installed');
  await t.send(install);
  await t.settled('active');
  return { t, oldClient: clientIdFor(install.eventId) };
}
