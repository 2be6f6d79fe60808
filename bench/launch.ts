import path from 'node:path';
import { freePort } from '../src/local/process';
import { PROJECT_ROOT } from '../src/local/tools';
import type { UsableCredentials } from '../src/store/credentials';
import { TalkdeskClient } from '../src/talkdesk/client';
import { TestBrowser } from '../test/launch/helpers';
import { perOp, round } from './ingest';
import { cpuPids } from './lifecycle';
import { cpuSnapshot } from './machine';
import { runPool, sleep, type Measured } from './load';
import { spawnNode } from './processes';
import type { BenchSystem } from './system';

export interface LaunchResult {
  /** Sign-ins through the web process: GET /launch → Talkdesk authorize (simulator) → /sso/callback → the /app page. */
  service: Measured;
  /** Simulator calls (browser redirects and server-side calls) of one sign-in, counted on a warm-up sign-in. */
  talkdeskRoundTrips: number;
  /**
   * The sign-in's Talkdesk round trips done bare from the bench process, per sign-in: GET authorize (302 with a
   * code), the code exchange with the same client assertion, GET /users/me; no web process, store, cookies or page.
   */
  reference: Measured;
  /** service p95 / reference p95 (target ≤ 1.5; reported, not asserted). */
  p95Ratio: number;
  /**
   * The floor: the same browser sign-in (same requests, same Talkdesk round trips, same client assertion)
   * through a bare Koa server of its own process, with no store, sealed state, licence or logs
   * (bench/bare-sign-in-server.ts): a minimal implementation of this flow on the same stack.
   */
  floor: Measured;
  /** floor p95 / reference p95: above 1.5, even a minimal implementation of the flow misses the target here. */
  floorP95VsReference: number;
  /** service p95 / floor p95: what the service adds to the flow itself (store, sealed state, licence, logs). */
  p95VsFloor: number;
  /** CPU seconds per sign-in by process during the floor run (the bare server in `web`). */
  floorCpuSecondsPerSignIn: Record<string, number>;
  /** service / reference, sign-ins per second. */
  ratio: number;
  /** CPU seconds per sign-in spent by each process during the service run (the reference's run is not in it). */
  cpuSecondsPerSignIn: Record<string, number>;
  /** CPU seconds per bare sign-in of the bench process (the simulator and the load) during the reference run. */
  referenceCpuSecondsPerSignIn: number;
}

const strip = ({ errors: _errors, ...m }: Measured & { errors: string[] }): Measured => m;

export interface SignInTarget {
  id: string;
  userId: string;
  clientId: string;
  keyId: string;
  algorithm: UsableCredentials['keyAlgorithm'];
  privateKey: string;
  tokenUrl: string;
  /** The account's sign-in endpoint (its install event's `_links.authorization`). */
  authorizeUrl: string;
}

/** The installations' licensed users and active credentials, once each installation is active in the store. */
async function signInTargets(sys: BenchSystem, ids: readonly string[], timeoutMs: number): Promise<SignInTarget[]> {
  const deadline = Date.now() + timeoutMs;
  const out: SignInTarget[] = [];
  for (const id of ids) {
    let rec = await sys.store.installations.get(id);
    while (rec?.phase !== 'active') {
      if (Date.now() > deadline) throw new Error(`installation ${id} not active within ${timeoutMs} ms`);
      await sleep(200);
      rec = await sys.store.installations.get(id);
    }
    const user = sys.simulator.accountUsers(id).find((u) => u.licensed);
    const creds = rec.activeClientId ? await sys.store.credentials.usable(id, rec.activeClientId) : undefined;
    if (!user || !creds?.secret.privateKey || !creds.keyId) continue;
    out.push({
      id,
      userId: user.id,
      clientId: creds.clientId,
      keyId: creds.keyId,
      algorithm: creds.keyAlgorithm,
      privateKey: creds.secret.privateKey,
      tokenUrl: creds.tokenUrl,
      authorizeUrl: sys.simulator.authorizeUrlFor(id),
    });
  }
  if (out.length === 0) throw new Error('no active installation with a licensed user and a key to sign in with');
  return out;
}

/**
 * (Launch) N sign-ins, C at a time, each a new browser from GET /launch to the first
 * page of /app through the real web process and the simulator's OAuth; beside the
 * same Talkdesk round trips (authorize, code exchange, userinfo) done bare N times.
 */
export async function measureLaunch(
  sys: BenchSystem,
  installationIds: readonly string[],
  n: number,
  concurrency: number,
  timeoutMs: number,
): Promise<LaunchResult> {
  const users = await signInTargets(sys, installationIds.slice(0, Math.max(n, 1)), timeoutMs);
  const signIn = async (i: number) => {
    const { id, userId } = users[i % users.length]!;
    sys.simulator.signInAs(id, userId);
    const u = new URL(`${sys.web.url}/launch`);
    u.searchParams.set('talkdesk_installation_id', id);
    u.searchParams.set('talkdesk_user_id', userId);
    const { res, url } = await new TestBrowser().open(u.href);
    if (res.status !== 200 || new URL(url).pathname !== '/app') throw new Error(`sign-in ended at ${url} with ${res.status}`);
  };
  // Warm-ups, one at a time: the simulator calls of one sign-in are all the calls made meanwhile.
  let calls = 0;
  const off = sys.simulator.onCall(() => (calls += 1));
  try {
    for (let i = 0; i < Math.min(3, users.length); i += 1) await signIn(i);
  } finally {
    off();
  }
  const talkdeskRoundTrips = Math.max(1, Math.round(calls / Math.min(3, users.length)));
  // The same warm-up as the floor's and the reference's (JIT, connections), C at a time.
  await runPool(Math.min(20, n), concurrency, signIn);

  const pids = cpuPids(sys);
  const cpuBefore = cpuSnapshot(pids);
  const service = await runPool(n, concurrency, signIn, timeoutMs);
  const cpuAfter = cpuSnapshot(pids);
  const cpuSecondsPerSignIn = perOp(cpuBefore, cpuAfter, service.ok);
  if (service.failed > 0) console.warn(`bench: launch: ${service.failed} of ${n} failed, e.g. ${service.errors.join('; ')}`);
  const { floor, floorCpuSecondsPerSignIn } = await measureFloor(sys, users, talkdeskRoundTrips, n, concurrency, timeoutMs);
  const talkdesk = new TalkdeskClient({ allowedHosts: [new URL(sys.simulator.url).host], timeoutMs: 30_000 });
  const redirectUri = `${sys.web.url}/sso/callback`;
  const bare = async (i: number) => {
    const t = users[i % users.length]!;
    sys.simulator.signInAs(t.id, t.userId);
    const authorize = new URL(t.authorizeUrl);
    for (const [k, v] of Object.entries({
      client_id: t.clientId,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'openid',
      state: 's',
    }))
      authorize.searchParams.set(k, v);
    const res = await fetch(authorize, { redirect: 'manual' });
    const code = new URL(res.headers.get('location') ?? redirectUri).searchParams.get('code');
    if (!code) throw new Error(`authorize answered ${res.status} without a code`);
    const { accessToken } = await talkdesk.exchangeAuthorizationCode({
      tokenUrl: t.tokenUrl,
      clientId: t.clientId,
      code,
      redirectUri,
      auth: { method: 'private_key_jwt', keyId: t.keyId, algorithm: t.algorithm, privateKey: t.privateKey },
    });
    // Any further round trip a sign-in makes (counted above) is one more GET /users/me.
    for (let k = 2; k < talkdeskRoundTrips; k += 1) await talkdesk.getUserInfo(`${sys.simulator.url}/users/me`, accessToken);
  };
  await runPool(Math.min(20, n), concurrency, bare);
  const refBefore = cpuSnapshot({ bench: process.pid });
  const reference = await runPool(n, concurrency, bare, timeoutMs);
  const refCpu = (cpuSnapshot({ bench: process.pid }).bench ?? 0) - (refBefore.bench ?? 0);
  if (reference.failed > 0)
    console.warn(`bench: bare sign-in round trips: ${reference.failed} of ${n} failed, e.g. ${reference.errors.join('; ')}`);
  return {
    service: strip(service),
    talkdeskRoundTrips,
    reference: strip(reference),
    p95Ratio: round(service.latencyMs.p95 / reference.latencyMs.p95),
    floor,
    floorP95VsReference: round(floor.latencyMs.p95 / reference.latencyMs.p95),
    p95VsFloor: round(service.latencyMs.p95 / floor.latencyMs.p95),
    floorCpuSecondsPerSignIn,
    ratio: round(service.perSecond / reference.perSecond),
    cpuSecondsPerSignIn,
    referenceCpuSecondsPerSignIn: round(refCpu / Math.max(1, reference.ok), 4),
  };
}

/** The same N browser sign-ins, C at a time, through the bare sign-in server (bench/bare-sign-in-server.ts). */
async function measureFloor(
  sys: BenchSystem,
  users: SignInTarget[],
  talkdeskRoundTrips: number,
  n: number,
  concurrency: number,
  timeoutMs: number,
): Promise<{ floor: Measured; floorCpuSecondsPerSignIn: Record<string, number> }> {
  const port = await freePort();
  const server = spawnNode('bare-sign-in', path.join(PROJECT_ROOT, 'dist/bench/bare-sign-in-server.js'), {
    PORT: String(port),
    SIMULATOR_URL: sys.simulator.url,
  });
  try {
    await server.waitFor('bare sign-in server listening', 30_000);
    const url = `http://127.0.0.1:${port}`;
    const posted = await fetch(`${url}/targets`, { method: 'POST', body: JSON.stringify(users) });
    if (!posted.ok) throw new Error(`bare sign-in server refused the targets: ${posted.status}`);
    const signIn = async (i: number) => {
      const { id, userId } = users[i % users.length]!;
      sys.simulator.signInAs(id, userId);
      const { res, url: at } = await new TestBrowser().open(`${url}/launch?talkdesk_installation_id=${encodeURIComponent(id)}`);
      if (res.status !== 200 || new URL(at).pathname !== '/app') throw new Error(`bare sign-in ended at ${at} with ${res.status}`);
    };
    let calls = 0;
    const off = sys.simulator.onCall(() => (calls += 1));
    const warm = await runPool(Math.min(20, n), concurrency, signIn).finally(off);
    // The floor is a fair one only if it makes the service's Talkdesk round trips, no fewer.
    if (warm.ok > 0 && Math.round(calls / warm.ok) !== talkdeskRoundTrips)
      console.warn(`bench: the bare sign-in made ${calls / warm.ok} Talkdesk round trips, the service ${talkdeskRoundTrips}`);
    const pids = { web: server.pid, 'simulator+load': process.pid };
    const before = cpuSnapshot(pids);
    const floor = await runPool(n, concurrency, signIn, timeoutMs);
    const after = cpuSnapshot(pids);
    if (floor.failed > 0) console.warn(`bench: bare sign-ins: ${floor.failed} of ${n} failed, e.g. ${floor.errors.join('; ')}`);
    return { floor: strip(floor), floorCpuSecondsPerSignIn: perOp(before, after, floor.ok) };
  } finally {
    await server.stop();
  }
}
