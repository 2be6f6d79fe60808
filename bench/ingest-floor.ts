import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { PROJECT_ROOT } from '../src/local/tools';
import { workflowIdFor } from '../workflows/definitions';
import { postCallback } from '../test/support/callback-client';
import { keepAliveAgent, runPool } from './load';
import { freePort } from '../src/local/process';
import { spawnNode } from './processes';
import { APP_ID, FLOOR_INBOX, NAMESPACE, WEBHOOK_SECRET } from './system-config';
import type { BenchSystem } from './system';

/**
 * The floor of the ingest figure: the same signed install events (new installations, the same count and
 * concurrency) through a server that authenticates, validates and hands them over as the callback does,
 * with no store (`durable`: with one insert of the record, credentials sealed in it, before the
 * hand-over: bench/bare-callback-server.ts). Its workflows start on a task queue no worker polls (not the service's: the scale
 * figure counts those). Started (and warmed) before the measured chunks, which `post(i)` sends; `stop()`
 * stops the server and ends its workflows.
 */
export async function startIngestFloor(sys: BenchSystem, n: number, concurrency: number, options: { durable?: boolean } = {}) {
  const warmup = Math.min(20, n);
  const bodies = Array.from({ length: n + warmup }, () => {
    const { installation, event } = sys.simulator.createInstallation();
    const raw = JSON.stringify(event);
    return { raw, signature: sys.simulator.signBody(raw), workflowId: workflowIdFor(installation.id), eventId: event.id };
  });
  const port = await freePort();
  const durable: Record<string, string> = options.durable
    ? { STORE_URI: sys.workerEnv.MONGODB_URI!, STORE_DB: sys.workerEnv.MONGODB_DB!, SECRETS_KEY: sys.workerEnv.SECRETS_KEY! }
    : {};
  const name = options.durable ? 'durable-callback' : 'bare-callback';
  const server = spawnNode(name, path.join(PROJECT_ROOT, 'dist/bench/bare-callback-server.js'), {
    ...durable,
    PORT: String(port),
    APP_ID,
    WEBHOOK_SECRET,
    TEMPORAL_ADDRESS: sys.temporal.address,
    TEMPORAL_NAMESPACE: NAMESPACE,
    TASK_QUEUE: `bench-${name}-${randomBytes(3).toString('hex')}`,
  });
  const agent = keepAliveAgent(concurrency);
  const url = `http://127.0.0.1:${port}/talkdesk/events`;
  const postAt = (offset: number) => async (i: number) => {
    const b = bodies[offset + i]!;
    const res = await postCallback(url, b.raw, { signature: b.signature, agent, timeoutMs: 30_000 });
    if (res.status !== 200) throw new Error(`answered ${res.status}: ${res.text.slice(0, 200)}`);
  };
  const stop = async () => {
    agent.destroy();
    await server.stop();
    // Its records would otherwise stay in the store through the later figures.
    if (options.durable)
      await sys.store.db.db
        .collection(FLOOR_INBOX)
        .drop()
        .catch(() => undefined);
    await terminateAll(
      sys,
      bodies.map((b) => b.workflowId),
    );
  };
  try {
    await server.waitFor('bare callback server listening', 30_000);
    const warm = await runPool(warmup, concurrency, postAt(n));
    if (warm.failed > 0)
      console.warn(`bench: bare callback warm-up: ${warm.failed} of ${warm.count} failed, e.g. ${warm.errors.join('; ')}`);
  } catch (err) {
    await stop();
    throw err;
  }
  /** The durable floor's records of the measured events found in the store (each acknowledged one stored). */
  const stored = () =>
    sys.store.db.db.collection<{ _id: string }>(FLOOR_INBOX).countDocuments({ _id: { $in: bodies.slice(0, n).map((b) => b.eventId) } });
  return { pid: server.pid, post: postAt(0), stop, stored };
}

/** The floor's (and the bare reference's) workflows wait on a queue no worker polls: ended so that they cost the later figures nothing. */
export async function terminateAll(sys: BenchSystem, workflowIds: string[]): Promise<void> {
  const ended = await runPool(workflowIds.length, 8, async (i) => {
    await sys.client.workflow
      .getHandle(workflowIds[i]!)
      .terminate('bench: the ingest floor is measured')
      .catch((err: unknown) => {
        // Never started (its request failed): nothing to end.
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      });
  });
  if (ended.failed > 0) console.warn(`bench: ${ended.failed} floor workflows not terminated, e.g. ${ended.errors.join('; ')}`);
}
