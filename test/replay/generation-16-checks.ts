/** Corpus checks of the sixteenth generation (corpus-checks.ts requires each). */
import { PATCHES_DECIDED_AT_START_1_TO_15, PATCHES_DECIDED_AT_START_1_TO_16 } from '../../workflows/installation/patches';
import { endedPhases, localActivities, patches, scheduled, signals, type RawHistory } from './raw-history';
import { took } from './took';

const REVOKED = 'late-compromised-rotation-destroys-revoked-sets';
const TRIAL_TIE = 'same-second-trial-event-late';
const ROUTINE_KEEPS = 'routine-rotation-keeps-proven-set';
const ended = (h: RawHistory) => endedPhases(h) as { phase?: string; result?: string; detail?: string }[];
/** Every recordTrial the run scheduled (a local one never: it calls the partner). */
const trialRecords = (h: RawHistory) => scheduled(h).filter((n) => n === 'recordTrial').length;

/** Install approved, a routine rotation `failed` (its acknowledgement refused), the uninstall acknowledged. */
const routineAckFailed = (h: RawHistory): boolean => {
  const rotation = signals(h, 'event').find((e) => (e as { type?: string }).type === 'app.credentials_rotated') as
    { facts?: { compromised?: boolean } } | undefined;
  return (
    rotation !== undefined &&
    rotation.facts?.compromised !== true &&
    JSON.stringify(ended(h).map((p) => [p.phase, p.result])) ===
      JSON.stringify([
        ['installing', 'approved'],
        ['active', 'failed'],
        ['uninstalling', 'acknowledged'],
      ])
  );
};

export const GENERATION_16_CHECKS: Record<string, (h: RawHistory) => boolean> = {
  'a run started with the one marker of the first sixteen generations, none other (patches-decided-at-start-1-to-16)': (h) =>
    patches(h).includes(PATCHES_DECIDED_AT_START_1_TO_16) && !patches(h).includes(PATCHES_DECIDED_AT_START_1_TO_15),
  [`a late compromised rotation destroys the retiring set issued before it (${REVOKED})`]: (h) =>
    took(h, REVOKED) &&
    localActivities(h).includes('destroyRevokedCredentials') &&
    ended(h).some((p) => p.result === 'superseded' && /retiring credentials issued before it destroyed/.test(p.detail ?? '')),
  [`a trial start of the second of an applied trial end is late: recorded, not applied (${TRIAL_TIE})`]: (h) =>
    took(h, TRIAL_TIE) &&
    trialRecords(h) === 1 &&
    ended(h).some((p) => p.result === 'superseded' && /trial_started of an applied trial event's second/.test(p.detail ?? '')),
  [`a routine rotation's acknowledgement refused, its proven set used all the same, decided at start (${ROUTINE_KEEPS})`]: (h) =>
    took(h, ROUTINE_KEEPS) &&
    !patches(h).includes(ROUTINE_KEEPS) &&
    routineAckFailed(h) &&
    localActivities(h).includes('switchCredentials'),
};
