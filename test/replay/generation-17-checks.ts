/** Corpus checks of the seventeenth generation (corpus-checks.ts requires each). */
import { PATCHES_DECIDED_AT_START_1_TO_16, PATCHES_DECIDED_AT_START_1_TO_17 } from '../../workflows/installation/patches';
import { endedPhases, ignoredReasons, patches, scheduled, signals, type RawHistory } from './raw-history';
import { took } from './took';

const REVOKED_END = 'revoked-state-ends-its-life';
const ended = (h: RawHistory) => endedPhases(h) as { phase?: string; result?: string; detail?: string }[];

const FIRST_AHEAD = 'first-install-taken-ahead';
/** The lifecycle events signalled, in the order they reached the run. */
const signalled = (h: RawHistory) => signals(h, 'event') as { type?: string; createdAt?: string }[];
/** A trial start signalled first, then its install, dated after it: the install queued behind the older trial. */
const trialThenLaterInstall = (h: RawHistory): boolean => {
  const [trial, install] = signalled(h);
  return (
    trial?.type === 'app.trial_started' &&
    install?.type === 'app.installed' &&
    Date.parse(trial.createdAt ?? '') < Date.parse(install.createdAt ?? '')
  );
};

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
  [`a trial start signalled before its install, dated before it: the install taken at once, the trial recorded after (${FIRST_AHEAD})`]: (
    h,
  ) =>
    took(h, FIRST_AHEAD) &&
    trialThenLaterInstall(h) &&
    scheduled(h).indexOf('provisionAccount') >= 0 &&
    scheduled(h).indexOf('provisionAccount') < scheduled(h).indexOf('recordTrial') &&
    JSON.stringify(ended(h).map((p) => [p.phase, p.result])) ===
      JSON.stringify([
        ['installing', 'approved'],
        ['uninstalling', 'acknowledged'],
      ]),
};
