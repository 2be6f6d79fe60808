import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from './activities';

/**
 * Reference workflows of the bench, on a task queue and bundle of their own: what
 * Temporal itself costs on this machine, beside which the service's figures are read.
 */

/** The signal the bare signal-with-start reference sends (same name as the installation workflow's). */
export const benchSignal = defineSignal<[unknown]>('event');

/** Waits for one signal, then completes: the target of the bare signal-with-start calls. */
export async function signalWaiter(): Promise<void> {
  let received = false;
  setHandler(benchSignal, () => {
    received = true;
  });
  await condition(() => received);
}

const { noop } = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });

/** Three no-op activities in a row: the reference of one install's lifecycle. */
export async function threeNoops(): Promise<void> {
  await noop();
  await noop();
  await noop();
}
