import assert from 'node:assert/strict';
import type { Simulator } from '../../src/simulator';
import { eventually } from '../support/waits';
import { api, getToken, instPath, postForm, signAssertion, tokenForm, useSimulator } from './helpers';

describe('simulator fault injection', () => {
  let sim: Simulator;
  useSimulator((s) => (sim = s));

  it('500 for the next N calls of a route, then normal service', async () => {
    const { event } = sim.createInstallation();
    sim.failNext('token', 2, { status: 500 });
    const statuses: number[] = [];
    const bodies: unknown[] = [];
    for (let i = 0; i < 3; i += 1) {
      const r = await postForm(
        sim.tokenUrlFor(event.data.client_id),
        tokenForm(await signAssertion(event.data, sim.tokenUrlFor(event.data.client_id))),
      );
      statuses.push(r.status);
      bodies.push(r.body.error);
    }
    assert.deepEqual(statuses, [500, 500, 200]);
    assert.deepEqual(bodies, ['server_error', 'server_error', undefined]);
    assert.deepEqual(
      sim.calls.map((c) => c.fault),
      ['status', 'status', undefined],
    );
  });

  it("429 with Retry-After, in the route family's error shape", async () => {
    const { installation, event } = sim.createInstallation();
    const token = await getToken(sim, event.data);
    sim.failNext('account', 1, { status: 429, retryAfterSeconds: 7 });
    sim.failNext('installationState', 1, { status: 429 });
    const r = await api(sim, token, 'GET', '/account');
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '7');
    assert.equal(r.body.code, 'too_many_requests');
    const s = await api(sim, token, 'POST', `${instPath(installation.id)}/state`, '{"state":"approve"}');
    assert.equal(s.status, 429);
    assert.equal(s.headers.get('retry-after'), null);
    assert.equal(typeof s.body.error, 'string');
    assert.equal(sim.getInstallation(installation.id)?.state, 'installing', 'a refused call has no effect');
    assert.equal((await api(sim, token, 'GET', '/account')).status, 200);
  });

  it('delay: the request takes effect at once but the answer comes late', async () => {
    const { installation, event } = sim.createInstallation();
    const token = await getToken(sim, event.data);
    sim.failNext('installationState', 1, { delayMs: 2_000 });
    const started = Date.now();
    let answered = false;
    const pending = api(sim, token, 'POST', `${instPath(installation.id)}/state`, '{"state":"approve"}').finally(() => (answered = true));
    await eventually(
      'the state call took effect',
      async () => sim.getInstallation(installation.id)?.state === 'completed' || undefined,
      5_000,
    );
    assert.equal(answered, false, 'in effect before the answer came');
    assert.equal(sim.stateCalls(installation.id)[0]?.status, 0, 'its status is not known before it is answered');
    // What a check counting calls waits for (the soak's end checks): the held answer sent, its status recorded.
    await sim.lateAnswersSettled();
    assert.equal(sim.stateCalls(installation.id)[0]?.status, 200);
    const r = await pending;
    assert.ok(Date.now() - started >= 1_990, `answered after ${Date.now() - started} ms`);
    assert.equal(r.status, 200);
    assert.equal(sim.stateCalls(installation.id)[0]?.fault, 'delay');
  });

  it('drop: the socket is destroyed without an answer and nothing happens', async () => {
    const { installation, event } = sim.createInstallation();
    const token = await getToken(sim, event.data);
    sim.failNext('installationState', 1, { drop: true });
    await assert.rejects(api(sim, token, 'POST', `${instPath(installation.id)}/state`, '{"state":"approve"}'));
    assert.equal(sim.getInstallation(installation.id)?.state, 'installing');
    const dropped = sim.stateCalls(installation.id)[0];
    assert.equal(dropped?.fault, 'drop');
    assert.equal(dropped?.status, 0);
    assert.deepEqual(dropped?.body, { state: 'approve' });
    assert.equal((await api(sim, token, 'POST', `${instPath(installation.id)}/state`, '{"state":"approve"}')).status, 200);
  });

  it('custom status with body and headers (e.g. an error that echoes a secret)', async () => {
    const { event } = sim.createInstallation();
    const token = await getToken(sim, event.data);
    sim.failNext('users', 1, { status: 400, body: { code: 'bad', message: `token ${token}` }, headers: { 'x-echo': token } });
    const r = await api(sim, token, 'GET', '/users');
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { code: 'bad', message: `token ${token}` });
    assert.equal(r.headers.get('x-echo'), token);
  });

  it('queues faults in order and validates them', async () => {
    const { event } = sim.createInstallation();
    const token = await getToken(sim, event.data);
    sim.failNext('account', 1, { status: 503 });
    sim.failNext('account', 1, { status: 502 });
    const got = [];
    for (let i = 0; i < 3; i += 1) got.push((await api(sim, token, 'GET', '/account')).status);
    assert.deepEqual(got, [503, 502, 200]);
    assert.throws(() => sim.failNext('account', 0, { status: 500 }), /count/);
    assert.throws(() => sim.failNext('nope' as never, 1, { status: 500 }), /route/);
    assert.throws(() => sim.failNext('account', 1, { status: 99 }), /status/);
  });

  it('chaos: seeded probabilities, route filter, and switch-off', async () => {
    const { event } = sim.createInstallation();
    const token = await getToken(sim, event.data);
    sim.setChaos({ p500: 1, routes: ['users'] });
    assert.equal((await api(sim, token, 'GET', '/users')).status, 500);
    assert.equal((await api(sim, token, 'GET', '/account')).status, 200);

    sim.setChaos({ p429: 1, retryAfterSeconds: 3 });
    const limited = await api(sim, token, 'GET', '/account');
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '3');

    sim.setChaos({ pHang: 1, hangMs: 200 });
    const t0 = Date.now();
    assert.equal((await api(sim, token, 'GET', '/account')).status, 200);
    assert.ok(Date.now() - t0 >= 190);

    const run = async (seed: number) => {
      sim.setChaos({ p500: 0.3, p429: 0.2, seed });
      const out: number[] = [];
      for (let i = 0; i < 100; i += 1) out.push((await api(sim, token, 'GET', '/account')).status);
      return out;
    };
    const a = await run(42);
    const b = await run(42);
    assert.deepEqual(a, b, 'same seed, same sequence');
    const count = (s: number) => a.filter((x) => x === s).length;
    assert.ok(count(500) > 15 && count(500) < 45, `500s: ${count(500)}`);
    assert.ok(count(429) > 8 && count(429) < 35, `429s: ${count(429)}`);
    assert.equal(count(500) + count(429) + count(200), 100);

    sim.setChaos(null);
    assert.equal((await api(sim, token, 'GET', '/account')).status, 200);
    assert.throws(() => sim.setChaos({ p500: 0.8, p429: 0.5 }), /exceed/);
  });
});
