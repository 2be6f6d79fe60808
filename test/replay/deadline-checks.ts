/** Corpus checks of patch expired-phase-reads-talkdesk-last (corpus-checks.ts requires each). */
import { endedPhases, scheduled, type RawHistory } from './raw-history';
import { took } from './took';

const PATCH = 'expired-phase-reads-talkdesk-last';
const ended = (h: RawHistory) => endedPhases(h) as { phase?: string; result?: string; detail?: string }[];
const phasesAre = (h: RawHistory, expected: string[][]) =>
  JSON.stringify(ended(h).map((p) => [p.phase, p.result])) === JSON.stringify(expected);

export const DEADLINE_READ_CHECKS: Record<string, (h: RawHistory) => boolean> = {
  'an install expired after its approval began, before the patch: undone, no read at the deadline': (h) =>
    !took(h, PATCH) &&
    ['setInstallationState', 'undoProvisioning'].every((a) => scheduled(h).includes(a)) &&
    phasesAre(h, [['installing', 'expired']]),
  [`an install expired after its approval landed (answer lost): read at the deadline, kept (${PATCH})`]: (h) =>
    took(h, PATCH) &&
    scheduled(h).includes('readInstallationState') &&
    !scheduled(h).includes('undoProvisioning') &&
    ended(h).some((p) => p.detail?.startsWith('Talkdesk shows the install concluded')) &&
    phasesAre(h, [
      ['installing', 'approved'],
      ['uninstalling', 'acknowledged'],
    ]),
};
