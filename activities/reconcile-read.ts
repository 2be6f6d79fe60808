import type { InstallationRecord } from '../src/store/installations';
import { FINAL_PHASES } from '../workflows/definitions';
import type { ActivityDeps } from './deps';
import { toFailure } from './failures';
import { whileHeartbeating } from './partner-calls';
import type { TalkdeskPause, TalkdeskVisit } from './reconcile-pacing';
import { refusedForGood, withToken } from './talkdesk-calls';

/**
 * A reconciliation visit's read of Talkdesk's view of an installation, with its active credentials, within the pass's
 * budget and its hosts' pauses; what happened is noted on the visit (read, refused for good, unanswered, nothing to read).
 */
export function createTalkdeskReader(deps: ActivityDeps, pause: TalkdeskPause) {
  const { store } = deps;
  /** Talkdesk's view of the installation; undefined when it has no credentials to read it with. */
  return async function talkdeskView(rec: InstallationRecord, visit: TalkdeskVisit) {
    const final = FINAL_PHASES.includes(rec.phase);
    // The record is written as a phase begins, before the install's credentials are imported: only
    // then (a live phase, in progress) are they looked up by installation, which reads the whole
    // collection on the embedded store. A final phase without them destroyed them before it ended.
    const clientId =
      rec.activeClientId ?? (final ? undefined : (await store.credentials.list(rec._id)).find((c) => c.status === 'active')?.clientId);
    if (!clientId || !rec.links.root || !rec.appId) return void (visit.nothingToRead = final);
    // Destroyed with the installation: nothing to read Talkdesk with.
    if (final && (await store.credentials.get(rec._id, clientId))?.status !== 'active') return void (visit.nothingToRead = true);
    const ref = { installationId: rec._id, appId: rec.appId, clientId, rootUrl: rec.links.root };
    const paused = () => {
      try {
        pause.check('read', ref.rootUrl);
      } catch (err) {
        visit.unanswered = true;
        throw err;
      }
    };
    // Before the budget's turn too: a paused host's reads must not spend the turns other hosts' reads wait for.
    paused();
    const turn = await visit.budget?.();
    // After the budget's wait: a 429 met meanwhile by another page holds this read too, and its turn goes back to the
    // budget, unsent. A token request and the read can take a client timeout each (up to 30 s): heartbeating, the page
    // outlives them.
    try {
      paused();
    } catch (err) {
      turn?.giveBack();
      throw err;
    }
    let tokenGranted = false;
    const there = await whileHeartbeating(`reading ${ref.installationId} at Talkdesk`, () =>
      withToken(deps, ref, (token) => {
        tokenGranted = true;
        return deps.talkdesk.getInstallation(ref.rootUrl, ref.appId, ref.installationId, token);
      }),
    ).catch((err: unknown) => {
      // Final failures too (a host not allowed, a redirect, a key that cannot sign): checked, else first every pass.
      if (refusedForGood(err) || toFailure(err).nonRetryable) visit.refused = true;
      else visit.unanswered = true;
      // The API host's reads pause for its own limit or outage, not for the token request's: that is the account's
      // identity host (its own per account), which no other installation's read goes to.
      if (tokenGranted) pause.note(err, ref.rootUrl);
      throw err;
    });
    visit.read = true;
    return { ref, state: there.state };
  };
}
