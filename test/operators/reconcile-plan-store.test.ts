import assert from 'node:assert/strict';
import { connectDatabase, type Database } from '../../src/store/db';
import { ReconcilePlanStore, WRITES_PER_COMMAND } from '../../src/store/reconcile-plans';
import { mongoUri, uniqueDbName } from '../support/servers';

/** The plan's pages on the store the service runs on (FerretDB unless MONGODB_URI is set). */
describe('reconciliation plan pages (FerretDB)', function () {
  this.timeout(60_000);
  let db: Database;
  before(async () => {
    db = await connectDatabase(await mongoUri(), uniqueDbName('plans'));
  });
  after(async () => {
    await db?.db.dropDatabase();
    await db?.close();
  });

  it('writes a plan of more than 100 pages again (a retried plan) without hanging the store', async () => {
    // One command replacing more than 100 existing documents never answers on FerretDB 1.24.
    const pages = 3 * WRITES_PER_COMMAND + 7;
    assert.ok(pages > 100);
    const store = new ReconcilePlanStore(db);
    const plan = (n: number) => Array.from({ length: pages }, (_, k) => [{ id: `i-${k}-${n}`, phase: 'active' as const }]);
    await store.write('plan-a', plan(1));
    await store.write('plan-a', plan(2));
    assert.deepEqual(await store.page('plan-a', pages - 1), [{ id: `i-${pages - 1}-2`, phase: 'active' }]);
    assert.deepEqual(await store.page('plan-a', 0), [{ id: 'i-0-2', phase: 'active' }]);
    assert.equal(await store.page('plan-a', pages), undefined);
  });
});
