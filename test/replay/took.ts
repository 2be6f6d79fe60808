/** Whether a recorded run took a patch's path, as the corpus checks ask it (corpus-checks.ts). */
import { markerDeciding } from '../../workflows/installation/patches';
import { patches, type RawHistory } from './raw-history';

/** Whether a run took a patch's path: its own marker, or the marker of the generation that decides it at start. */
export const took = (h: RawHistory, patch: string): boolean => {
  const marker = markerDeciding(patch);
  return patches(h).includes(patch) || (marker !== undefined && patches(h).includes(marker));
};
