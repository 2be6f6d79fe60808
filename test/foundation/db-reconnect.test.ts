import assert from 'node:assert/strict';
import { connectDatabase } from '../../src/store';
import { mongoUri, uniqueDbName } from '../support/servers';

/**
 * `Database.reconnect()` (the store watchdogs' repair, src/store/watchdog.ts) against FerretDB: the
 * collections handed out keep working, and a shutdown's `close()` wins over a reconnect under way.
 */
describe('store: reconnecting the client in place (FerretDB)', function () {
  this.timeout(30_000);

  it('keeps the collections handed out working across a reconnect', async () => {
    const db = await connectDatabase(await mongoUri(), uniqueDbName('reconnect'));
    try {
      const coll = db.collection<{ _id: string }>('store_markers');
      await coll.insertOne({ _id: 'before' });
      const topology = () => (db.client as unknown as { topology?: object }).topology;
      const before = topology();
      assert.ok(before, 'connected: the driver has a topology');
      await db.reconnect();
      // The repair: the old connections and their monitor closed and new ones made, not the same client kept open.
      assert.notEqual(topology(), before, 'a new topology (new connections and monitor)');
      await coll.insertOne({ _id: 'after' });
      assert.equal(await coll.countDocuments({}), 2);
    } finally {
      await db.db.dropDatabase().catch(() => undefined);
      await db.close();
    }
  });

  it('a close() while the reconnect is connecting leaves the client closed', async () => {
    const db = await connectDatabase(await mongoUri(), uniqueDbName('reconnect'));
    await db.db.command({ ping: 1 });
    const connect = db.client.connect.bind(db.client);
    let connecting!: () => void;
    const inConnect = new Promise<void>((resolve) => (connecting = resolve));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // The reconnect's connect waits until the shutdown below has closed the client.
    db.client.connect = async () => {
      connecting();
      await held;
      return connect();
    };
    const reconnecting = db.reconnect();
    await inConnect;
    await db.close();
    release();
    await reconnecting;
    db.client.connect = connect;
    await assert.rejects(
      db.db.command({ ping: 1 }),
      (err: Error) => /^Mongo(NotConnected|TopologyClosed)Error$/.test(err.name),
      'the client stays closed after the shutdown',
    );
  });
});
