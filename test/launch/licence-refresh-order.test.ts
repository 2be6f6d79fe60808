import assert from 'node:assert/strict';
import { generateKeySpec, parseKeyring } from '../../src/crypto/secrets';
import { connectDatabase, createStore, type Database, type Store } from '../../src/store';
import { mongoUri, uniqueDbName } from '../support/servers';

/**
 * A sign-in's licence refresh writes the user's mapping as of when Talkdesk was asked (`asOf`): a removal the
 * workflow applied while Talkdesk was being read (seconds, on a large account) is newer and stands (FerretDB).
 */
describe("launch: a licence refresh never overwrites a later removal of the user's mapping", function () {
  this.timeout(30_000);
  let db: Database;
  let store: Store;
  before(async () => {
    db = await connectDatabase(await mongoUri(), uniqueDbName('licence-refresh'));
    store = createStore(db, parseKeyring(generateKeySpec('lr1')));
  });
  after(async () => {
    await db?.db.dropDatabase().catch(() => undefined);
    await db?.close();
  });

  it('a refresh asked before the removal writes nothing; one asked after it writes the mapping back', async () => {
    const [accountId, installationId, user] = ['acct-lr', 'inst-lr', { id: 'u1', email: 'u1@example.com', name: 'U1' }];
    await store.accounts.upsertAccount({ accountId, installationId, appId: 'app-lr', name: 'Acme' });
    await store.accounts.upsertUsers(accountId, installationId, [user]);
    assert.ok((await store.accounts.getAccount(accountId))?.licensedUsers?.ids.includes(user.id));
    const askedAt = new Date();
    // The workflow removes the user while the sign-in reads Talkdesk's list (which, as of `askedAt`, named them).
    await new Promise((r) => setTimeout(r, 5)); // a later clock reading for the removal, not a wait for something
    await store.accounts.deactivateUsers(accountId, [user.id]);
    assert.equal(await store.accounts.upsertUsers(accountId, installationId, [user], askedAt), 0, 'nothing written');
    const mapping = await store.accounts.users.findOne({ _id: `${accountId}:${user.id}` });
    assert.equal(mapping?.active, false, 'the removal stands');
    const account = await store.accounts.getAccount(accountId);
    assert.ok(!account?.licensedUsers?.ids.includes(user.id), "not put back on the account's licensed list");
    // Talkdesk asked after the removal (the user licensed again): written.
    assert.equal(await store.accounts.upsertUsers(accountId, installationId, [user], new Date()), 1);
    assert.equal((await store.accounts.users.findOne({ _id: `${accountId}:${user.id}` }))?.active, true);
  });
});
