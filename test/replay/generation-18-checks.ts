/** Corpus checks of the eighteenth generation (corpus-checks.ts requires each). */
import { PATCHES_DECIDED_AT_START_1_TO_17, PATCHES_DECIDED_AT_START_1_TO_18 } from '../../workflows/installation/patches';
import { endedPhases, localActivities, patches, scheduled, signals, type RawHistory } from './raw-history';
import { took } from './took';

const RETIRING = 'compromised-rotation-destroys-retiring-sets';
const ADOPTS = 'talkdesk-call-adopts-queued-rotation';
/** The rotations signalled, in the order they reached the run. */
const rotations = (h: RawHistory) =>
  (signals(h, 'event') as { type?: string; facts?: { compromised?: boolean } }[]).filter((e) => e.type === 'app.credentials_rotated');

export const GENERATION_18_CHECKS: Record<string, (h: RawHistory) => boolean> = {
  'a run started with the one marker of the first eighteen generations, none other (patches-decided-at-start-1-to-18)': (h) =>
    patches(h).includes(PATCHES_DECIDED_AT_START_1_TO_18) && !patches(h).includes(PATCHES_DECIDED_AT_START_1_TO_17),
  [`a routine rotation then a compromised one, in order: the retiring set destroyed with the switch (${RETIRING})`]: (h) =>
    took(h, RETIRING) &&
    JSON.stringify(rotations(h).map((r) => r.facts?.compromised)) === JSON.stringify([false, true]) &&
    localActivities(h).filter((n) => n === 'switchCredentials').length === 2 &&
    localActivities(h).indexOf('destroyRevokedCredentials') > localActivities(h).lastIndexOf('switchCredentials') &&
    JSON.stringify(endedPhases(h).map((p) => [p.phase, p.result])) ===
      JSON.stringify([
        ['installing', 'approved'],
        ['active', 'rotated'],
        ['active', 'rotated'],
        ['uninstalling', 'acknowledged'],
      ]),
  [`an update refused with the set a queued compromised rotation revoked: its set adopted, the update approved (${ADOPTS})`]: (h) =>
    took(h, ADOPTS) &&
    // The install's, the adoption's, the rotation's own (finding the set): without the adoption, two.
    localActivities(h).filter((n) => n === 'importCredentials').length >= 3 &&
    JSON.stringify(endedPhases(h).map((p) => [p.phase, p.result])) ===
      JSON.stringify([
        ['installing', 'approved'],
        ['updating', 'approved'],
        ['active', 'rotated'],
        ['uninstalling', 'acknowledged'],
      ]) &&
    scheduled(h).filter((n) => n === 'setInstallationState').length >= 3,
};
