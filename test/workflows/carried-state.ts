import type { LifecycleEvent, PhaseRecord } from '../../workflows/definitions';
import type { InstallationState } from '../../workflows/state';
import type { InstallationUnderTest } from './harness';

/** A history entry of a phase `e` began and Talkdesk approved. */
export const approvedEntry = (e: LifecycleEvent, phase: 'installing' | 'updating'): PhaseRecord => ({
  phase,
  eventId: e.eventId,
  startedAt: e.createdAt,
  endedAt: e.createdAt,
  result: 'approved',
});

/**
 * What every state a run hands over by continue-as-new in the middle of a phase shares (the account of the harness's
 * events, `install`'s links, the phase's deadline six days on, nothing queued); each test adds its history and resume.
 */
export function midPhaseBase(t: InstallationUnderTest, install: LifecycleEvent, phase: 'updating' | 'uninstalling') {
  return {
    installationId: t.installationId,
    appId: 'app-1',
    accountId: 'acct-1',
    accountName: 'Acme',
    phase,
    deadline: new Date(t.t0 + 6 * 86_400_000).toISOString(),
    links: install.links,
    attempts: 1,
    queue: [],
    ignoredEvents: [],
    retiring: [],
    operatorActions: [],
  } satisfies Partial<InstallationState>;
}
