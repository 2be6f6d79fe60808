import assert from 'node:assert/strict';
import type { CommandStartedEvent, Document } from 'mongodb';
import { COLLECTIONS } from '../../src/store/db';
import { mongoUri } from '../support/servers';
import { startSystem, type TestSystem } from '../support/system';
import { activeInstallation, signIn } from './helpers';

/** The collections the sign-in and the app page read and write (the web's dispatcher uses others). */
const LAUNCH_COLLECTIONS = new Set<string>([
  COLLECTIONS.installations,
  COLLECTIONS.ssoLinks,
  COLLECTIONS.ssoStates,
  COLLECTIONS.credentials,
  COLLECTIONS.tokens,
  COLLECTIONS.userMappings,
  COLLECTIONS.accounts,
  COLLECTIONS.settings,
  COLLECTIONS.sessions,
  COLLECTIONS.ssoLogouts,
  COLLECTIONS.starterContent,
  COLLECTIONS.ssoFailures,
]);

interface Seen {
  name: string;
  collection: string;
  filters: Document[];
}

/** The filters a command selects documents with; none for an insert. */
function filtersOf(e: CommandStartedEvent): Document[] {
  const c = e.command;
  if (e.commandName === 'find') return [c.filter ?? {}];
  if (e.commandName === 'findAndModify') return [c.query ?? {}];
  if (e.commandName === 'update') return (c.updates as { q: Document }[]).map((u) => u.q);
  if (e.commandName === 'delete') return (c.deletes as { q: Document }[]).map((d) => d.q);
  if (e.commandName === 'insert') return [];
  // count, aggregate, distinct...: not a read by _id.
  return [{ [`(${e.commandName})`]: c.query ?? c.pipeline ?? c }];
}

/** FerretDB 1.24 pushes down to SQL only a filter that is exactly `{_id: <string>}`. */
const exactId = (f: Document): boolean => Object.keys(f).length === 1 && typeof f._id === 'string';

describe('launch: the store commands of one sign-in', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  before(async () => {
    // The web server gets a connection of its own, with command monitoring, to the same database.
    const uri = new URL(await mongoUri());
    uri.searchParams.set('monitorCommands', 'true');
    sys = await startSystem({ launch: {}, webMongoUri: uri.href });
  });
  after(() => sys?.close());

  /** The launch collections' commands of one sign-in of `userId`, and its first page. */
  async function commandsOf(
    installationId: string,
    userId: string,
  ): Promise<{ seen: Seen[]; listing: string; page: { status: number; body: string } }> {
    const seen: Seen[] = [];
    const listen = (e: CommandStartedEvent) => {
      const collection = String(e.command[e.commandName] ?? '');
      if (LAUNCH_COLLECTIONS.has(collection)) seen.push({ name: e.commandName, collection, filters: filtersOf(e) });
    };
    sys.webStore.db.client.on('commandStarted', listen);
    try {
      const page = await signIn(sys, installationId, userId);
      const listing = seen.map((s) => `${s.name} ${s.collection} ${JSON.stringify(s.filters)}`).join('\n');
      return { seen, listing, page };
    } finally {
      sys.webStore.db.client.off('commandStarted', listen);
    }
  }

  it('GET /launch, the callback and the first /app page select documents by exact _id only, in at most 17 commands (16 when the credentials were read a moment before)', async () => {
    const { installation, licensed } = await activeInstallation(sys, { licensedUsers: 3 });
    const [user, second] = licensed;
    assert.ok(user && second);
    const { seen, listing, page } = await commandsOf(installation.id, user.id);
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, /<dd id="licensed-users">3<\/dd>/, 'the page still counts the licensed users');
    const scans = seen.filter((s) => !s.filters.every(exactId));
    assert.deepEqual(scans, [], `commands that read a whole collection on the embedded store:\n${listing}`);
    // 12 since the sign-in reads the user's logout mark after writing its session (one find by _id); 14 since it
    // also reads the user's removal mark and the installation's uninstall mark (each a document of its own writer); 17
    // since /app reads the three again (a mark whose sessions' end failed at the callback ends the session at its next page).
    assert.ok(seen.length <= 17, `${seen.length} store commands for one sign-in:\n${listing}`);
    assert.deepEqual(
      seen.filter((s) => s.collection === COLLECTIONS.ssoLogouts).map((s) => s.name),
      ['find', 'find', 'find', 'find', 'find', 'find'],
      `the logout, removal and uninstall marks read once each by the callback, and by /app:\n${listing}`,
    );
    assert.ok(seen.length >= 6, `the monitoring saw the sign-in's commands:\n${listing}`);
    // /app checks the licence on the account's list of licensed users, which it reads for the page anyway.
    assert.deepEqual(
      seen.filter((s) => s.collection === COLLECTIONS.userMappings).map((s) => s.name),
      ['find'],
      `only the callback reads the user's mapping:\n${listing}`,
    );
    // /launch stores no state (the browser keeps it, sealed); the callback spends it with one insert.
    const states = seen.filter((s) => s.collection === COLLECTIONS.ssoStates);
    assert.deepEqual(
      states.map((s) => s.name),
      ['insert'],
      `sign-in state commands:\n${listing}`,
    );

    const again = await commandsOf(installation.id, second.id);
    assert.equal(again.page.status, 200, again.page.body);
    assert.ok(again.seen.length <= 16, `${again.seen.length} store commands for a second sign-in:\n${again.listing}`);
    assert.deepEqual(
      again.seen.filter((s) => s.collection === COLLECTIONS.credentials),
      [],
      `the credential set read a moment before is not read again:\n${again.listing}`,
    );
  });

  it("a user.logout's handling reads the inbox by exact _id only (the inbox grows: 30 days of events)", async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const [user] = licensed;
    assert.ok(user);
    await signIn(sys, installation.id, user.id);
    const seen: Seen[] = [];
    const listen = (e: CommandStartedEvent) => {
      const collection = String(e.command[e.commandName] ?? '');
      if (collection === COLLECTIONS.inbox) seen.push({ name: e.commandName, collection, filters: filtersOf(e) });
    };
    sys.webStore.db.client.on('commandStarted', listen);
    try {
      assert.equal(
        await sys.simulator.deliver(sys.simulator.userLogout(installation.id, user.id), { callbackUrl: sys.web.callbackUrl }),
        200,
      );
    } finally {
      sys.webStore.db.client.off('commandStarted', listen);
    }
    const listing = seen.map((s) => `${s.name} ${JSON.stringify(s.filters)}`).join('\n');
    assert.ok(
      seen.some((s) => s.name === 'update'),
      `the handled mark was seen:\n${listing}`,
    );
    assert.deepEqual(
      seen.filter((s) => !s.filters.every(exactId)),
      [],
      `inbox commands that read the whole collection on the embedded store:\n${listing}`,
    );
  });
});
