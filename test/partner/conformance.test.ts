import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateKeySpec, parseKeyring } from '../../src/crypto/secrets';
import { createLogger } from '../../src/logging/logger';
import { HttpProvisioner, MongoProvisioner, callKey, type CallContext, type PartnerProvisioner, type PartnerUser } from '../../src/partner';
import { connectDatabase, createStore, type Database, type Store } from '../../src/store';
import { mongoUri, uniqueDbName } from '../support/servers';
import { TestPartnerServer } from '../support/partner-server';

/** What the suite can see of an implementation's product for one account. */
interface Observed {
  accounts: number;
  status?: 'active' | 'disabled';
  activeUsers: string[];
  subscription: unknown;
  hasSettings: boolean;
  /** Starter content made for the account (a restore must not make a second). */
  starterContent: number;
  trial?: unknown;
}

interface Implementation {
  name: string;
  partner: PartnerProvisioner;
  observe(accountId: string): Promise<Observed>;
}

const SECRET = 'conformance-hook-secret-0123456789';

function mongoImplementation(store: Store): Implementation {
  return {
    name: 'built-in MongoDB',
    partner: new MongoProvisioner(store),
    async observe(accountId) {
      const account = await store.accounts.getAccount(accountId);
      const users = await store.accounts.listUsers(accountId);
      const starter = await store.starterContent.coll.find({ accountId }).toArray();
      if (account) {
        // The count the app page shows, kept on the account, agrees with the mappings.
        const mapped = users.filter((u) => u.active && u.installationId === account.installationId).length;
        assert.equal(account.licensedUsers?.installationId, account.installationId, 'the account keeps its licensed users');
        assert.equal(await store.accounts.licensedUserCount(account, accountId, account.installationId), mapped);
      }
      return {
        accounts: await store.accounts.accounts.countDocuments({ _id: accountId }),
        status: account ? (account.status === 'provisioned' ? 'active' : 'disabled') : undefined,
        activeUsers: users
          .filter((u) => u.active)
          .map((u) => u.talkdeskUserId)
          .sort(),
        subscription: account?.subscription ?? null,
        hasSettings: (await store.accounts.getSettings(accountId)) !== null,
        starterContent: starter.reduce((n, s) => n + s.dashboards.length, 0),
        trial: account?.trial,
      };
    },
  };
}

function httpImplementation(store: Store, server: TestPartnerServer): Implementation {
  return {
    name: 'HTTP hooks (test partner server)',
    partner: new HttpProvisioner({
      url: server.url,
      secrets: [SECRET],
      timeoutMs: 2_000,
      pageSize: 2,
      calls: store.partnerCalls,
      logger: createLogger({ level: 'silent' }),
    }),
    async observe(accountId) {
      const a = server.accounts.get(accountId);
      return {
        accounts: a ? 1 : 0,
        status: a?.status,
        activeUsers: a
          ? [...a.users]
              .filter(([, u]) => u.active)
              .map(([id]) => id)
              .sort()
          : [],
        subscription: a?.subscription ?? null,
        hasSettings: a !== undefined && Object.keys(a.settings).length > 0,
        starterContent: a?.starterContentCreated ?? 0,
        trial: a?.trial,
      };
    },
  };
}

const users = (...ids: string[]): PartnerUser[] =>
  ids.map((id, i) => ({ id, email: `${id}@example.com`, name: id, role: i === 0 ? 'admin' : 'user' }));

function ctxFor(
  installationId: string,
  eventId: string,
  op: Parameters<typeof callKey>[2],
  signal = new AbortController().signal,
): CallContext {
  return { key: callKey(installationId, eventId, op), occurredAt: '2026-12-01T10:00:00Z', signal };
}

describe('partner provisioner conformance (every implementation keeps the contract)', function () {
  this.timeout(60_000);
  let db: Database;
  let store: Store;
  let server: TestPartnerServer;
  const impls: Implementation[] = [];

  before(async () => {
    db = await connectDatabase(await mongoUri(), uniqueDbName('partner'));
    store = createStore(db, parseKeyring(generateKeySpec('k1')));
    await store.ensureIndexes();
    server = await new TestPartnerServer([SECRET]).start();
    impls.push(mongoImplementation(store), httpImplementation(store, server));
  });
  after(async () => {
    await server?.stop();
    await db?.db.dropDatabase().catch(() => undefined);
    await db?.close();
  });

  const fresh = () => {
    const accountId = `acct${randomBytes(4).toString('hex')}`;
    const installationId = `inst${randomBytes(4).toString('hex')}`;
    const account = { accountId, installationId, appId: 'app1', name: `Account ${accountId}` };
    return { accountId, installationId, account };
  };

  it("built-in MongoDB: undoing a failed reinstall under the same installation id keeps the earlier life's starter content", async () => {
    const mongo = (impls[0] as Implementation).partner;
    const { accountId, installationId, account } = fresh();
    await mongo.provision({ account, users: users('u1') }, ctxFor(installationId, 'ev1', 'account.provision'));
    await store.starterContent.markDone(accountId, 'open-sample-dashboard');
    await mongo.deprovision({ installationId, accountId }, ctxFor(installationId, 'ev2', 'account.deprovision'));
    // Installed again under the same id (ev3); that install fails and is undone.
    await mongo.provision({ account, users: users('u1') }, ctxFor(installationId, 'ev3', 'account.provision'));
    const undo = {
      ...ctxFor(installationId, 'ev3', 'account.undo_provision'),
      undoes: callKey(installationId, 'ev3', 'account.provision'),
    };
    await mongo.undoProvision({ installationId, accountId }, undo);
    const content = await store.starterContent.get(accountId);
    assert.ok(content, "the earlier life's content is kept");
    assert.equal(content.checklist.find((c) => c.id === 'open-sample-dashboard')?.done, true, 'with its progress');
    // Undoing the provision that made it (a first install that failed) still removes it.
    const other = fresh();
    await mongo.provision({ account: other.account, users: users('u1') }, ctxFor(other.installationId, 'ev1', 'account.provision'));
    const first = {
      ...ctxFor(other.installationId, 'ev1', 'account.undo_provision'),
      undoes: callKey(other.installationId, 'ev1', 'account.provision'),
    };
    await mongo.undoProvision({ installationId: other.installationId, accountId: other.accountId }, first);
    assert.equal(await store.starterContent.get(other.accountId), null);
  });

  it('built-in MongoDB: settings a failed first install created go with its undo; the next install restores none', async () => {
    const mongo = (impls[0] as Implementation).partner;
    const { accountId, installationId, account } = fresh();
    await mongo.provision({ account, users: users('u1') }, ctxFor(installationId, 'ev1', 'account.provision'));
    const undo = {
      ...ctxFor(installationId, 'ev1', 'account.undo_provision'),
      undoes: callKey(installationId, 'ev1', 'account.provision'),
    };
    await mongo.undoProvision({ installationId, accountId }, undo);
    assert.equal(await store.accounts.getSettings(accountId), null, 'no settings of an install that never was');
    const again = `${installationId}r`;
    const next = await mongo.provision(
      { account: { ...account, installationId: again }, users: users('u1') },
      ctxFor(again, 'ev2', 'account.provision'),
    );
    assert.equal(next.settingsRestored, false);

    // Settings changed since (or an earlier life's, kept by a same-id reinstall's undo) stay.
    await store.accounts.updateSettings(accountId, { greeting: 'hello' });
    const undoNext = { ...ctxFor(again, 'ev2', 'account.undo_provision'), undoes: callKey(again, 'ev2', 'account.provision') };
    await mongo.undoProvision({ installationId: again, accountId }, undoNext);
    assert.deepEqual((await store.accounts.getSettings(accountId))?.settings, { greeting: 'hello' });
  });

  for (const which of [0, 1]) {
    describe(which === 0 ? 'built-in MongoDB' : 'HTTP hooks', () => {
      const impl = () => impls[which] as Implementation;

      it('provision twice with the same key gives one account', async () => {
        const { accountId, installationId, account } = fresh();
        const ctx = ctxFor(installationId, 'ev1', 'account.provision');
        const req = { account, users: users('u1', 'u2', 'u3'), createdBy: 'u1' };
        await impl().partner.provision(req, ctx);
        await impl().partner.provision(req, ctx);
        const seen = await impl().observe(accountId);
        assert.equal(seen.accounts, 1);
        assert.equal(seen.status, 'active');
        assert.deepEqual(seen.activeUsers, ['u1', 'u2', 'u3']);
        assert.equal(seen.starterContent, 1, 'starter content made once');
        if (impl().partner.kind === 'http') {
          const sent = server.hooks('account.provision', installationId);
          assert.equal(sent.length, 2);
          assert.equal(sent[0]?.body.id, sent[1]?.body.id, 'the same id on the repeated call');
          assert.equal(sent[0]?.headers['idempotency-key'], sent[0]?.body.id);
        }
      });

      it('cancel mid-provision then undo leaves nothing', async () => {
        const { accountId, installationId, account } = fresh();
        const abort = new AbortController();
        // Cancelled as the first part is written (the HTTP one pages its 5 users by 2): the rest must not be written.
        const ctx = { ...ctxFor(installationId, 'ev1', 'account.provision', abort.signal), progress: () => abort.abort() };
        await assert.rejects(impl().partner.provision({ account, users: users('u1', 'u2', 'u3', 'u4', 'u5') }, ctx), /cancelled/);
        const half = await impl().observe(accountId);
        assert.ok(half.activeUsers.length < 5 || half.starterContent === 0, 'stopped before writing everything');
        await impl().partner.undoProvision({ installationId, accountId }, ctxFor(installationId, 'ev1', 'account.undo_provision'));
        const seen = await impl().observe(accountId);
        assert.equal(seen.accounts, 0);
        assert.deepEqual(seen.activeUsers, []);
        assert.equal(seen.starterContent, 0);
        // An undo with nothing at all provisioned is fine too.
        await impl().partner.undoProvision(
          { installationId: `${installationId}x` },
          ctxFor(`${installationId}x`, 'ev1', 'account.undo_provision'),
        );
      });

      it('update then revert restores the account', async () => {
        const { accountId, installationId, account } = fresh();
        await impl().partner.provision({ account, users: users('u1', 'u2') }, ctxFor(installationId, 'ev1', 'account.provision'));
        const before = await impl().observe(accountId);
        await impl().partner.update(
          {
            accountId,
            installationId,
            usersAdded: users('u9'),
            usersRemoved: ['u2'],
            subscription: { plan: { name: 'gold', licenses: 10 } },
          },
          ctxFor(installationId, 'ev2', 'account.update'),
        );
        const updated = await impl().observe(accountId);
        assert.deepEqual(updated.activeUsers, ['u1', 'u9']);
        assert.deepEqual(updated.subscription, { plan: { name: 'gold', licenses: 10 } });
        await impl().partner.revertUpdate(
          { accountId, installationId, usersAdded: ['u9'], usersDeactivated: ['u2'], previousSubscription: {} },
          ctxFor(installationId, 'ev2', 'account.revert_update'),
        );
        const after = await impl().observe(accountId);
        assert.deepEqual(after.activeUsers, before.activeUsers);
        assert.deepEqual(after.subscription ?? {}, before.subscription ?? {});
      });

      it('deprovision keeps the settings', async () => {
        const { accountId, installationId, account } = fresh();
        await impl().partner.provision({ account, users: users('u1') }, ctxFor(installationId, 'ev1', 'account.provision'));
        await impl().partner.deprovision({ installationId, accountId }, ctxFor(installationId, 'ev2', 'account.deprovision'));
        const seen = await impl().observe(accountId);
        assert.equal(seen.status, 'disabled');
        assert.deepEqual(seen.activeUsers, []);
        assert.equal(seen.hasSettings, true);
      });

      it('reinstall restores the starter content without duplicates', async () => {
        const { accountId, installationId, account } = fresh();
        await impl().partner.provision({ account, users: users('u1') }, ctxFor(installationId, 'ev1', 'account.provision'));
        await impl().partner.deprovision({ installationId, accountId }, ctxFor(installationId, 'ev2', 'account.deprovision'));
        const again = `${installationId}r`;
        const outcome = await impl().partner.provision(
          { account: { ...account, installationId: again }, users: users('u1', 'u2') },
          ctxFor(again, 'ev3', 'account.provision'),
        );
        const seen = await impl().observe(accountId);
        assert.equal(seen.accounts, 1);
        assert.equal(seen.status, 'active');
        assert.equal(seen.starterContent, 1, 'restored, not made again');
        assert.equal(seen.hasSettings, true);
        if (impl().partner.kind === 'mongodb') {
          assert.equal(outcome.settingsRestored, true);
          assert.equal((await store.starterContent.get(accountId))?.installationId, again);
        }
      });

      it("a reinstall starts without the earlier installation's subscription and trial; a retry of the same install keeps them", async () => {
        const { accountId, installationId, account } = fresh();
        await impl().partner.provision({ account, users: users('u1') }, ctxFor(installationId, 'ev1', 'account.provision'));
        await impl().partner.update(
          { accountId, installationId, usersAdded: [], usersRemoved: [], subscription: { plan: { name: 'pro', licenses: 10 } } },
          ctxFor(installationId, 'ev2', 'account.update'),
        );
        const trial = { startedAt: '2026-12-01T00:00:00Z', expiresAt: '2026-12-31T00:00:00Z' };
        await impl().partner.trial(
          { installationId, accountId, type: 'app.trial_started', trial, fields: { expires_at: trial.expiresAt } },
          ctxFor(installationId, 'ev3', 'account.trial'),
        );
        // The same install's provision again (a retry) keeps what its own events recorded.
        await impl().partner.provision({ account, users: users('u1') }, ctxFor(installationId, 'ev1', 'account.provision'));
        const kept = await impl().observe(accountId);
        assert.deepEqual(kept.subscription, { plan: { name: 'pro', licenses: 10 } });
        assert.ok(kept.trial, 'the trial is kept on a retry');

        await impl().partner.deprovision({ installationId, accountId }, ctxFor(installationId, 'ev4', 'account.deprovision'));
        const again = `${installationId}r`;
        await impl().partner.provision(
          { account: { ...account, installationId: again }, users: users('u1') },
          ctxFor(again, 'ev5', 'account.provision'),
        );
        const seen = await impl().observe(accountId);
        assert.equal(seen.status, 'active');
        assert.equal(seen.subscription ?? null, null, "the earlier installation's subscription is gone");
        assert.equal(seen.trial ?? null, null, "the earlier installation's trial is gone");
        assert.equal(seen.hasSettings, true, 'settings are still restored');

        // A late trial event of the earlier installation (delivered after the reinstall) leaves the new one's alone.
        await impl().partner.trial(
          { installationId, accountId, type: 'app.trial_ended', trial: { ...trial, endedAt: '2026-12-02T00:00:00Z' }, fields: {} },
          ctxFor(installationId, 'ev6', 'account.trial'),
        );
        assert.equal((await impl().observe(accountId)).trial ?? null, null, "the earlier installation's late trial event is ignored");
        // A late revert of the earlier installation's update (retried past its uninstall) leaves it alone too.
        await impl().partner.revertUpdate(
          {
            accountId,
            installationId,
            usersAdded: ['u1'],
            usersDeactivated: [],
            previousSubscription: { plan: { name: 'old', licenses: 1 } },
          },
          ctxFor(installationId, 'ev7', 'account.revert_update'),
        );
        const after = await impl().observe(accountId);
        assert.equal(after.subscription ?? null, null, "the earlier installation's late revert is ignored");
        assert.equal(after.status, 'active');
      });

      it('records every trial event, app.trial_extended included', async () => {
        const { accountId, installationId, account } = fresh();
        await impl().partner.provision({ account, users: users('u1') }, ctxFor(installationId, 'ev1', 'account.provision'));
        const trial = { startedAt: '2026-12-01T00:00:00Z', expiresAt: '2026-12-31T00:00:00Z' };
        await impl().partner.trial(
          { installationId, accountId, type: 'app.trial_extended', trial, fields: { expires_at: trial.expiresAt, unknown_field: 1 } },
          ctxFor(installationId, 'ev4', 'account.trial'),
        );
        const seen = await impl().observe(accountId);
        const got = seen.trial as Record<string, unknown>;
        assert.equal(got.expiresAt ?? got.expires_at, trial.expiresAt);
      });
    });
  }
});
