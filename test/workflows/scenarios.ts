import type { temporal } from '@temporalio/proto';
import type { InstallationUnderTest } from './harness';

/** Shared scenarios and history readings of the workflow tests. */

/** The durations (ms) of the timers a run started, oldest first. */
export const timerDurations = (history: temporal.api.history.v1.IHistory): number[] =>
  (history.events ?? [])
    .map((e) => e.timerStartedEventAttributes?.startToFireTimeout)
    .filter((d): d is NonNullable<typeof d> => d != null)
    .map((d) => Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6));

/** An install and its uninstall of the same second, the uninstall arriving first: both events and the workflow's result. */
export async function uninstallBeforeItsInstall(t: InstallationUnderTest) {
  const install = t.event('app.installed', { atSeconds: 1 });
  const uninstall = t.event('app.uninstalled', { atSeconds: 1 });
  await t.send(uninstall);
  await t.until('the uninstall to wait for its install', (v) => /app\.installed/.test(v.currentStep ?? ''));
  await t.send(install);
  const done = await t.result();
  return { install, uninstall, done };
}

/**
 * The durations (ms) of the timers of at least `minMs` that fired, oldest first. Reading the history, not the test
 * server's clock: that only skips time while a test awaits a result or sleeps, so "the clock moved less than an hour"
 * cannot fail while the test polls a query.
 */
export const longTimersFired = (history: temporal.api.history.v1.IHistory, minMs: number): number[] => {
  const started = new Map(
    (history.events ?? []).flatMap((e) => {
      const d = e.timerStartedEventAttributes?.startToFireTimeout;
      return d ? [[String(e.eventId), Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6)] as const] : [];
    }),
  );
  return (history.events ?? [])
    .map((e) => started.get(String(e.timerFiredEventAttributes?.startedEventId ?? '')))
    .filter((ms): ms is number => ms !== undefined && ms >= minMs);
};
