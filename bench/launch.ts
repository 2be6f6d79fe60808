import http from 'node:http';
import { TestBrowser } from '../test/launch/helpers';
import { round } from './ingest';
import { keepAliveAgent, runPool, sleep, type Measured } from './load';
import type { BenchSystem } from './system';

export interface LaunchResult {
  /** Sign-ins through the web process: GET /launch → Talkdesk authorize (simulator) → /sso/callback → the /app page. */
  service: Measured;
  /** Simulator calls (browser redirects and server-side calls) of one sign-in, counted on a warm-up sign-in. */
  talkdeskRoundTrips: number;
  /** `talkdeskRoundTrips` sequential bare round trips to the simulator per sign-in (GET /users/me without a token: 401). */
  reference: Measured;
  /** service p95 / reference p95 (target ≤ 1.5; reported, not asserted). */
  p95Ratio: number;
  /** service / reference, sign-ins per second. */
  ratio: number;
}

const strip = ({ errors: _errors, ...m }: Measured & { errors: string[] }): Measured => m;

/** The installations' licensed users, once each installation is active in the store. */
async function licensedUsers(sys: BenchSystem, ids: readonly string[], timeoutMs: number): Promise<{ id: string; userId: string }[]> {
  const deadline = Date.now() + timeoutMs;
  const out: { id: string; userId: string }[] = [];
  for (const id of ids) {
    while ((await sys.store.installations.get(id))?.phase !== 'active') {
      if (Date.now() > deadline) throw new Error(`installation ${id} not active within ${timeoutMs} ms`);
      await sleep(200);
    }
    const user = sys.simulator.accountUsers(id).find((u) => u.licensed);
    if (user) out.push({ id, userId: user.id });
  }
  if (out.length === 0) throw new Error('no installation with a licensed user to sign in');
  return out;
}

function bareGet(url: string, agent: http.Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.once('end', () => resolve());
    });
    req.once('error', reject);
  });
}

/**
 * (Launch) N sign-ins, C at a time, each a new browser from GET /launch to the first
 * page of /app through the real web process and the simulator's OAuth; beside N
 * series of the same number of bare round trips to the simulator.
 */
export async function measureLaunch(
  sys: BenchSystem,
  installationIds: readonly string[],
  n: number,
  concurrency: number,
  timeoutMs: number,
): Promise<LaunchResult> {
  const users = await licensedUsers(sys, installationIds.slice(0, Math.max(n, 1)), timeoutMs);
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

  const service = await runPool(n, concurrency, signIn, timeoutMs);
  if (service.failed > 0) console.warn(`bench: launch: ${service.failed} of ${n} failed, e.g. ${service.errors.join('; ')}`);
  const agent = keepAliveAgent(concurrency);
  let reference: Measured & { errors: string[] };
  try {
    const bare = async () => {
      for (let k = 0; k < talkdeskRoundTrips; k += 1) await bareGet(`${sys.simulator.url}/users/me`, agent);
    };
    await runPool(Math.min(20, n), concurrency, bare);
    reference = await runPool(n, concurrency, bare, timeoutMs);
  } finally {
    agent.destroy();
  }
  return {
    service: strip(service),
    talkdeskRoundTrips,
    reference: strip(reference),
    p95Ratio: round(service.latencyMs.p95 / reference.latencyMs.p95),
    ratio: round(service.perSecond / reference.perSecond),
  };
}
