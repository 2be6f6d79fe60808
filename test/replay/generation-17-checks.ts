/** Corpus checks of the seventeenth generation (corpus-checks.ts requires each). */
import { PATCHES_DECIDED_AT_START_1_TO_16, PATCHES_DECIDED_AT_START_1_TO_17 } from '../../workflows/installation/patches';
import { endedPhases, ignoredReasons, patches, scheduled, type RawHistory } from './raw-history';
import { took } from './took';

const REVOKED_END = 'revoked-state-ends-its-life';
const ended = (h: RawHistory) => endedPhases(h) as { phase?: string; result?: string; detail?: string }[];

export const GENERATION_17_CHECKS: Record<string, (h: RawHistory) => boolean> = {
  'a run started with the one marker of the first seventeen generations, none other (patches-decided-at-start-1-to-17)': (h) =>
    patches(h).includes(PATCHES_DECIDED_AT_START_1_TO_17) && !patches(h).includes(PATCHES_DECIDED_AT_START_1_TO_16),
  [`the uninstall of an end reconciliation found (revoked) is ignored, deprovisioned once, no uninstall phase (${REVOKED_END})`]: (h) =>
    took(h, REVOKED_END) &&
    ignoredReasons(h).some((r) => /^uninstall no newer than the installation's end .*already uninstalled/.test(r)) &&
    scheduled(h).filter((n) => n === 'deprovisionAccount').length === 1 &&
    JSON.stringify(ended(h).map((p) => [p.phase, p.result, p.detail])) ===
      JSON.stringify([
        ['installing', 'approved', undefined],
        ['uninstalled', 'deprovisioned', 'Talkdesk reports revoked'],
      ]),
};
