import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import type { MongoClient } from 'mongodb';
import { eventually } from './waits';

/** The parts of the driver's server monitor (mongodb 6.x, sdam/monitor.js) this reaches into. */
interface DriverMonitor {
  connection?: { socket: Socket } | null;
  s: { state: string };
  monitorId?: { toJSON(): { timeSinceLastCall: number; isExpeditedCheckScheduled: boolean } };
  requestCheck(): void;
}

function monitorOf(client: MongoClient): DriverMonitor {
  const topology = (client as unknown as { topology?: { s?: { servers?: Map<string, { monitor?: DriverMonitor }> } } }).topology;
  const servers = [...(topology?.s?.servers?.values() ?? [])];
  const monitor = servers[0]?.monitor;
  assert.ok(
    servers.length === 1 && monitor && typeof monitor.requestCheck === 'function',
    'the driver no longer has the monitor this reaches into (mongodb upgraded?): see test/support/mongo-wedge.ts',
  );
  return monitor;
}

/**
 * Puts the client's server monitor where the driver (mongodb 6.22, against a server whose hello has no
 * topologyVersion, such as FerretDB) can land by chance when every socket is reset at once: its socket is
 * destroyed and, before Node emits that socket's close, a check is asked for (as an operation failing on
 * the reset does). The check writes to the dead socket and waits for a 'drain' that never comes, and the
 * monitor ignores every later request to check, so once the server is marked unknown it stays unknown.
 * What the CI run of 2026-12-04 met in test/callback/outages.test.ts, made certain here. FerretDB only: against
 * a MongoDB that streams its hello the monitor is seldom idle, and the wait below fails.
 */
export async function wedgeMonitor(client: MongoClient): Promise<void> {
  const monitor = monitorOf(client);
  // A check runs at once only 500 ms (minHeartbeatFrequencyMS) after the last one ended.
  await eventually('the monitor idle, with its connection, its last check 600 ms ago and none scheduled sooner', async () => {
    const interval = monitor.monitorId?.toJSON();
    return monitor.s.state === 'idle' &&
      monitor.connection &&
      interval &&
      interval.timeSinceLastCall > 600 &&
      !interval.isExpeditedCheckScheduled
      ? true
      : undefined;
  });
  monitor.connection?.socket.destroy();
  monitor.requestCheck();
  assert.equal(monitor.s.state, 'monitoring', 'the check started on the destroyed socket');
}

/**
 * The client's view of its one server is Unknown (what a failed operation's network error leaves once the monitor is
 * wedged). An operation's error on a connection the driver judges stale marks nothing, so a 503 alone does not prove it.
 */
export function serverUnknown(client: MongoClient): boolean {
  const topology = (client as unknown as { topology?: { description?: { servers?: Map<string, { type: string }> } } }).topology;
  const servers = [...(topology?.description?.servers?.values() ?? [])];
  assert.equal(servers.length, 1, 'the client knows one server (see test/support/mongo-wedge.ts)');
  return servers[0]?.type === 'Unknown';
}

/** The client's server monitor now (a reconnect makes a new one). */
export function currentMonitor(client: MongoClient): object {
  return monitorOf(client);
}

/** The monitor is still in a check (the one it started on the dead socket, once wedged). */
export function monitorWedged(client: MongoClient): boolean {
  return monitorOf(client).s.state === 'monitoring';
}
