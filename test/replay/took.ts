/** Whether a recorded run took a patch's path, as the corpus checks ask it (corpus-checks.ts). */
import { markersDeciding } from '../../workflows/installation/patches';
import { patches, type RawHistory } from './raw-history';

/** Whether a run took a patch's path: its own marker, or a marker that decides it at start (its generation's, or all of them). */
export const took = (h: RawHistory, patch: string): boolean => [patch, ...markersDeciding(patch)].some((m) => patches(h).includes(m));
