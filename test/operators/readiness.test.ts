import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { temporalDevEnv } from '../support/servers';
import { startSystem, type TestSystem } from '../support/system';

/**
 * /readyz asks Temporal about the namespace events are handed to, not only whether the server
 * answers: a namespace missing (a typo in TEMPORAL_NAMESPACE), or refused to the API key, takes no
 * hand-over, which the body shows (`degraded`). The web stays ready (200): it stores events meanwhile.
 */
describe('readiness checks the namespace the web hands events to (dev server, FerretDB)', function () {
  this.timeout(120_000);
  let sys: TestSystem | undefined;
  let connection: Connection | undefined;
  afterEach(async () => {
    await sys?.close();
    await connection?.close();
    sys = connection = undefined;
  });

  it('a namespace the server does not have: degraded (temporal: false), though the server answers; still ready for callbacks', async () => {
    const env = await temporalDevEnv();
    connection = await Connection.connect({ address: env.address });
    const info = await connection.workflowService.getSystemInfo({});
    assert.ok(info.capabilities, 'the server itself answers');
    sys = await startSystem({ webClient: new Client({ connection, namespace: 'no-such-namespace' }) });
    const ready = await fetch(`${sys.web.adminUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'degraded', mongodb: true, temporal: false });
  });

  it('the namespace the server has: ready', async () => {
    const env = await temporalDevEnv();
    connection = await Connection.connect({ address: env.address });
    sys = await startSystem({ webClient: new Client({ connection, namespace: env.namespace ?? 'default' }) });
    const ready = await fetch(`${sys.web.adminUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', mongodb: true, temporal: true });
  });
});
