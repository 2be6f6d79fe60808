/** Corpus checks of the fifteenth generation (corpus-checks.ts requires each). */
import { PATCHES_DECIDED_AT_START_1_TO_14, PATCHES_DECIDED_AT_START_1_TO_15 } from '../../workflows/installation/patches';
import { decode, endedPhases, patches, scheduled, type RawHistory } from './raw-history';
import { took } from './took';

const KEYED = 'late-update-keyed-by-newest-applied';
const READS_AT_DEADLINE = 'operator-reject-of-update-reads-at-deadline';
const INSTALL_READS_AT_DEADLINE = 'operator-reject-of-install-reads-at-deadline';
const ended = (h: RawHistory) => endedPhases(h) as { phase?: string; result?: string; detail?: string }[];
/** The inputs of the run's applyUpdate activities. */
const applyInputs = (h: RawHistory) =>
  h.events
    .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'applyUpdate')
    .map((e) => decode(e.activityTaskScheduledEventAttributes?.input?.payloads?.[0]) as { lateAfter?: string; resyncUsers?: boolean });

export const GENERATION_15_CHECKS: Record<string, (h: RawHistory) => boolean> = {
  'a run started with the one marker of the first fifteen generations, none other (patches-decided-at-start-1-to-15)': (h) =>
    patches(h).includes(PATCHES_DECIDED_AT_START_1_TO_15) && !patches(h).includes(PATCHES_DECIDED_AT_START_1_TO_14),
  [`a late update keyed by the newest update applied: applyUpdate's lateAfter, an update in order without (${KEYED})`]: (h) =>
    took(h, KEYED) &&
    applyInputs(h).some((i) => i.resyncUsers === true && typeof i.lateAfter === 'string') &&
    applyInputs(h).some((i) => i.resyncUsers !== true && i.lateAfter === undefined),
  [`an operator's reject of an update, its run at the deadline unanswered: read once more, kept (${READS_AT_DEADLINE})`]: (h) =>
    took(h, READS_AT_DEADLINE) &&
    scheduled(h).includes('readInstallationState') &&
    !scheduled(h).includes('revertUpdate') &&
    ended(h).some((p) => p.result === 'not-open' && /read at its deadline/.test(p.detail ?? '')),
  [`an operator's reject of an install, its seven days unanswered: read once more, kept (${INSTALL_READS_AT_DEADLINE})`]: (h) =>
    took(h, INSTALL_READS_AT_DEADLINE) &&
    scheduled(h).includes('readInstallationState') &&
    !scheduled(h).includes('undoProvisioning') &&
    ended(h).some((p) => p.result === 'not-open' && /install concluded \(read at the deadline\)/.test(p.detail ?? '')),
};
