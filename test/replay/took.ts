/** Whether a recorded run took a patch's path, as the corpus checks ask it (corpus-checks.ts). */
import {
  DECIDED_AT_START,
  DECIDED_AT_START_2,
  DECIDED_AT_START_3,
  DECIDED_AT_START_4,
  DECIDED_AT_START_5,
  DECIDED_AT_START_6,
  PATCHES_DECIDED_AT_START,
  PATCHES_DECIDED_AT_START_2,
  PATCHES_DECIDED_AT_START_3,
  PATCHES_DECIDED_AT_START_4,
  PATCHES_DECIDED_AT_START_5,
  PATCHES_DECIDED_AT_START_6,
} from '../../workflows/installation/patches';
import { patches, type RawHistory } from './raw-history';

/** Whether a run took a patch's path: its own marker, or the marker of the generation that decides it at start. */
export const took = (h: RawHistory, patch: string): boolean =>
  patches(h).includes(patch) ||
  (DECIDED_AT_START.includes(patch) && patches(h).includes(PATCHES_DECIDED_AT_START)) ||
  (DECIDED_AT_START_2.includes(patch) && patches(h).includes(PATCHES_DECIDED_AT_START_2)) ||
  (DECIDED_AT_START_3.includes(patch) && patches(h).includes(PATCHES_DECIDED_AT_START_3)) ||
  (DECIDED_AT_START_4.includes(patch) && patches(h).includes(PATCHES_DECIDED_AT_START_4)) ||
  (DECIDED_AT_START_5.includes(patch) && patches(h).includes(PATCHES_DECIDED_AT_START_5)) ||
  (DECIDED_AT_START_6.includes(patch) && patches(h).includes(PATCHES_DECIDED_AT_START_6));
