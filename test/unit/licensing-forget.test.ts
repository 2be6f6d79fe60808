import assert from 'node:assert/strict';
import type { UsableCredentials } from '../../src/store/credentials';
import type { InstallationRecord } from '../../src/store/installations';
import { TalkdeskHttpError } from '../../src/talkdesk/errors';
import type { LaunchContext } from '../../src/web/launch/context';
import { LicensedUsersReads } from '../../src/web/launch/licensed-reads';
import { licensedUser } from '../../src/web/launch/licensing';
import { SsoFailure } from '../../src/web/launch/reasons';

/** The licence refresh at sign-in (a user with no mapping yet) when Talkdesk refuses the token. */
describe('sign-in licence refresh: a refused token request', () => {
  it('drops the credential set kept for sign-ins, so the next sign-in reads it again', async () => {
    const forgotten: string[] = [];
    const creds = {
      installationId: 'inst-1',
      clientId: 'client-1',
      keyId: 'k1',
      keyAlgorithm: 'ES256',
      tokenUrl: 'https://api.talkdesk.test/oauth/token',
      secret: { clientSecret: 's', privateKey: 'p' },
    } as unknown as UsableCredentials;
    const lc = {
      store: { accounts: { users: { findOne: async () => null } } },
      credentials: {
        usable: async () => creds,
        forget: (installationId: string, clientId: string) => forgotten.push(`${installationId}/${clientId}`),
      },
      talkdesk: {
        requestToken: async () => {
          throw new TalkdeskHttpError({ endpoint: 'POST /oauth/token', status: 401 });
        },
      },
      logger: { info: () => undefined },
      appId: 'app',
      licensedReads: new LicensedUsersReads(),
    } as unknown as LaunchContext;
    const rec = {
      _id: 'inst-1',
      accountId: 'acct-1',
      activeClientId: 'client-1',
      phase: 'active',
      links: { root: 'https://api.talkdesk.test/' },
    } as unknown as InstallationRecord;
    await assert.rejects(licensedUser(lc, rec, 'user-1'), (err: unknown) => err instanceof SsoFailure);
    assert.deepEqual(forgotten, ['inst-1/client-1']);
  });
});
