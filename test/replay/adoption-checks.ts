/**
 * Corpus checks of the rotations an uninstall adopts (their set acknowledges the uninstall): part of corpus-checks.ts.
 */
import { askedBetween, endedPhases, eventSignalIndex, patchesOf, stateCallClients, type RawHistory } from './raw-history';
import { took } from './took';
import { NEW_LIFE_ROTATION_WAITS_BEFORE_UNINSTALL as NEW_LIFE_ROTATION } from '../../workflows/installation/earlier-life';
import { UNINSTALL_ADOPTS_ROTATION_DURING_ACKNOWLEDGEMENT } from '../../workflows/installation/uninstall';

/**
 * Under patch uninstall-adopts-compromised-rotation: an approved install, then `middle` (the rotation's
 * own entry, or the update it queued behind), then an uninstall acknowledged with another client id
 * than the install's approval.
 */
const adoptedByUninstall = (h: RawHistory, middle: [string, string]): boolean => {
  const clients = stateCallClients(h);
  const expected = [['installing', 'approved'], middle, ['uninstalling', 'acknowledged']];
  return (
    took(h, 'uninstall-adopts-compromised-rotation') &&
    JSON.stringify(endedPhases(h).map((p) => [p.phase, p.result])) === JSON.stringify(expected) &&
    clients.length >= 2 &&
    clients[0] !== clients.at(-1)
  );
};

/**
 * An approved install, then an uninstall whose acknowledgement ran with the install's set, a compromised rotation
 * signalled meanwhile, the patch asked after that signal, and the acknowledgement's last call with another set.
 */
const adoptedDuringAcknowledgement = (h: RawHistory): boolean => {
  const clients = stateCallClients(h);
  const expected = [
    ['installing', 'approved'],
    ['uninstalling', 'acknowledged'],
  ];
  const marker = h.events.findIndex((e) => patchesOf(e).includes(UNINSTALL_ADOPTS_ROTATION_DURING_ACKNOWLEDGEMENT));
  const rotation = eventSignalIndex(h, 'app.credentials_rotated');
  return (
    rotation >= 0 &&
    marker > rotation &&
    JSON.stringify(endedPhases(h).map((p) => [p.phase, p.result])) === JSON.stringify(expected) &&
    clients.length >= 3 &&
    clients[1] === clients[0] &&
    clients.at(-1) !== clients[0]
  );
};

export const ADOPTION_CHECKS: Record<string, (h: RawHistory) => boolean> = {
  "a compromised rotation delivered while the uninstall's acknowledgement retried, adopted and the acknowledgement sent again with its set (uninstall-adopts-rotation-during-acknowledgement)":
    adoptedDuringAcknowledgement,
  "an uninstall interrupting a compromised rotation, acknowledged with the rotation's set (uninstall-adopts-compromised-rotation)": (h) =>
    adoptedByUninstall(h, ['active', 'interrupted']),
  "an uninstall queued behind a compromised rotation, acknowledged with the rotation's set (uninstall-adopts-compromised-rotation)": (h) =>
    adoptedByUninstall(h, ['updating', 'interrupted']) && eventSignalIndex(h, 'app.credentials_rotated') >= 0,
  'the same, new-life-rotation-waits-before-uninstall asked by the rotation signalled (its marker before the uninstall)': (h) =>
    askedBetween(h, NEW_LIFE_ROTATION, 'app.credentials_rotated', 'app.uninstalled') && adoptedByUninstall(h, ['updating', 'interrupted']),
  'a compromised rotation whose acknowledgement was refused, its proven set used all the same (compromised-rotation-keeps-proven-set)': (
    h,
  ) => took(h, 'compromised-rotation-keeps-proven-set') && adoptedByUninstall(h, ['active', 'failed']),
};
