import { randomBytes } from 'node:crypto';
import type { AccountRecord, UserMappingRecord } from '../src/store/accounts';
import { credentialId, type CredentialRecord } from '../src/store/credentials';
import { COLLECTIONS } from '../src/store/db';
import type { InstallationRecord } from '../src/store/installations';
import type { SsoLinksRecord } from '../src/store/sso-links';
import { workflowIdFor } from '../workflows/definitions';
import { measureLaunch } from './launch';
import { intArg, tuningFromEnv } from './options';
import { startBenchSystem } from './system';
import { runBenchEntry } from './entry';

/**
 * `node dist/bench/run-launch.js`: the launch figure alone (bench/launch.ts), quicker than the
 * whole bench. A few installations go through the install path (the sign-in targets); the store
 * gets the records hundreds of earlier installs leave (installation, credentials, account, its
 * licensed users' mappings, sign-in links) written in bulk, as ballast the launch path may scan.
 * BENCH_N sign-ins (60), BENCH_CONCURRENCY (8), BENCH_LAUNCH_INSTALLED (10), BENCH_LAUNCH_BALLAST (800).
 */

const argv = process.argv.slice(2);
const n = intArg(argv, 'n', 'BENCH_N', 60, 1);
const concurrency = intArg(argv, 'concurrency', 'BENCH_CONCURRENCY', 8, 1);
const installed = intArg(argv, 'installed', 'BENCH_LAUNCH_INSTALLED', 10, 1);
const ballast = intArg(argv, 'ballast', 'BENCH_LAUNCH_BALLAST', 800, 0);
const USERS_PER_ACCOUNT = 3; // the simulator's default licensed users

async function seedBallast(sys: Awaited<ReturnType<typeof startBenchSystem>>, count: number): Promise<void> {
  const now = new Date();
  const BATCH = 400;
  for (let done = 0; done < count; done += BATCH) {
    const docs = {
      installations: [] as InstallationRecord[],
      credentials: [] as CredentialRecord[],
      accounts: [] as AccountRecord[],
      users: [] as UserMappingRecord[],
      links: [] as SsoLinksRecord[],
    };
    for (let i = done; i < Math.min(count, done + BATCH); i += 1) {
      const id = `ballast-${i}-${randomBytes(4).toString('hex')}`;
      const accountId = `acct-${id}`;
      const clientId = `client-${id}`;
      const root = `${sys.simulator.url}/`;
      docs.installations.push({
        _id: id,
        workflowId: workflowIdFor(id),
        appId: 'bench',
        accountId,
        accountName: `Ballast ${i}`,
        phase: 'active',
        activeClientId: clientId,
        links: { root, tokens: `${root}oauth/token` },
        approvedAt: now,
        installApprovedAt: now,
        lastEventAt: now.toISOString(),
        handledEventIds: [`ev-${id}`],
        createdAt: now,
        updatedAt: now,
      } as InstallationRecord);
      docs.credentials.push({
        _id: credentialId(id, clientId),
        installationId: id,
        clientId,
        keyId: `k-${id}`,
        keyAlgorithm: 'ES256',
        tokenUrl: `${root}oauth/token`,
        status: 'active',
        secret: sys.store.credentials.encryptSecret(id, clientId, { clientSecret: 's', privateKey: 'p', publicKey: 'q' }),
        sourceEventId: `ev-${id}`,
        createdAt: now,
        activatedAt: now,
      });
      docs.accounts.push({
        _id: accountId,
        installationId: id,
        appId: 'bench',
        name: `Ballast ${i}`,
        status: 'provisioned',
        settingsRestored: false,
        createdAt: now,
        updatedAt: now,
      });
      for (let u = 0; u < USERS_PER_ACCOUNT; u += 1) {
        docs.users.push({
          _id: `${accountId}:u${u}`,
          accountId,
          installationId: id,
          talkdeskUserId: `u${u}`,
          partnerUserId: `pu_${accountId}_u${u}`,
          role: u === 0 ? 'admin' : 'user',
          active: true,
          updatedAt: now,
        });
      }
      docs.links.push({
        _id: id,
        authorization: `${root}oauth/authorize`,
        tokens: `${root}oauth/token`,
        userinfo: `${root}users/me`,
        eventCreatedAt: now,
        eventId: `ev-${id}`,
        updatedAt: now,
      });
    }
    const db = sys.store.db;
    await db.collection(COLLECTIONS.installations).insertMany(docs.installations as never[], { ordered: false });
    await db.collection(COLLECTIONS.credentials).insertMany(docs.credentials as never[], { ordered: false });
    await db.collection(COLLECTIONS.accounts).insertMany(docs.accounts as never[], { ordered: false });
    await db.collection(COLLECTIONS.userMappings).insertMany(docs.users as never[], { ordered: false });
    await db.collection(COLLECTIONS.ssoLinks).insertMany(docs.links as never[], { ordered: false });
  }
}

async function main(): Promise<void> {
  const sys = await startBenchSystem({ workerProcesses: 1, tuning: tuningFromEnv(), web: 'process', logLevel: 'info' });
  try {
    const ids: string[] = [];
    for (let i = 0; i < installed; i += 1) {
      const { installation, event } = sys.simulator.createInstallation();
      const status = await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl });
      if (status !== 200) throw new Error(`install event answered ${status}`);
      ids.push(installation.id);
    }
    await seedBallast(sys, ballast);
    console.log(`bench: ${installed} installed, ${ballast} ballast installations seeded; ${n} sign-ins, ${concurrency} at once`);
    const r = await measureLaunch(sys, ids, n, concurrency, 10 * 60_000);
    const l = (m: { p50: number; p95: number; p99: number }) => `${Math.round(m.p50)} / ${Math.round(m.p95)} / ${Math.round(m.p99)} ms`;
    console.log(`bench: launch: ${r.service.perSecond} sign-ins/s, p50/p95/p99 ${l(r.service.latencyMs)}`);
    console.log(`bench: bare round trips (${r.talkdeskRoundTrips}): ${r.reference.perSecond}/s, p50/p95/p99 ${l(r.reference.latencyMs)}`);
    console.log(`bench: the same sign-in through a bare server (floor): ${r.floor.perSecond}/s, p50/p95/p99 ${l(r.floor.latencyMs)}`);
    console.log(
      `bench: p95 ratio ${r.p95Ratio}, rate ratio ${r.ratio}; floor vs bare round trips ${r.floorP95VsReference}, service vs floor ${r.p95VsFloor}`,
    );
    console.log(`bench: CPU seconds per floor sign-in ${JSON.stringify(r.floorCpuSecondsPerSignIn)}`);
    console.log(`bench: CPU seconds per sign-in ${JSON.stringify(r.cpuSecondsPerSignIn)}, per bare one ${r.referenceCpuSecondsPerSignIn}`);
  } finally {
    await sys.stop();
  }
}

runBenchEntry(main);
