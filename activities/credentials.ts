import { ApplicationFailure } from '@temporalio/common';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../workflows/definitions';
import type { ImportCredentialsInput, ImportCredentialsResult, InstallationRef, ObtainTokenResult } from '../workflows/activity-types';
import type { ActivityDeps } from './deps';
import { eventCredentialsContext, inboxCredentialsContext } from '../src/store/secret-contexts';
import { SsoLinksStore } from '../src/store/sso-links';
import { clientIdReused, credentialsMissing, destroyedWhileImporting, sealedUnderUnknownKey } from './failures';
import { MARKERS } from '../src/store/markers';
import { accessToken } from './tokens';
import { stopIfOutlived } from './partner-calls';

export function credentialActivities(deps: ActivityDeps) {
  const { store, logger } = deps;
  const ssoLinks = new SsoLinksStore(store.db);
  /** The token URL of the installation's active set, else of its newest (a destroyed set keeps its URL). */
  const knownTokenUrl = async (installationId: string): Promise<string | undefined> => {
    const sets = await store.credentials.list(installationId);
    return (sets.find((c) => c.status === 'active') ?? sets.at(-1))?.tokenUrl;
  };
  return {
    /**
     * Moves the encrypted credentials of an event from `event_credentials` into the
     * credential store, then deletes them there. Idempotent: a retry finds them moved.
     * Also keeps the event's sign-in links for the launch routes (the newest event's win);
     * an event stored by an earlier version has none here, its callback saved them.
     */
    async importCredentials(input: ImportCredentialsInput & { activate: boolean }): Promise<ImportCredentialsResult> {
      // Before the event's copy is read: see closeCount.
      const closesBefore = await store.credentials.closeCount(input.installationId);
      const record = await store.inbox.get(input.eventId);
      if (!record) throw credentialsMissing(input.installationId);
      const signIn = record.event.signInLinks;
      if (signIn) {
        await ssoLinks.save(
          input.installationId,
          {
            authorization: signIn.authorization,
            tokens: record.event.links.tokens,
            userinfo: signIn.userinfo,
            widgetUrl: signIn.widgetUrl,
          },
          { id: record._id, createdAt: record.createdAt },
        );
      }
      const facts = record.event.facts as { client_id?: string; key_id?: string; key_algorithm?: string };
      const clientId = facts.client_id;
      if (!clientId || !facts.key_id || !KEY_ALGORITHMS.includes(facts.key_algorithm as KeyAlgorithm)) {
        throw ApplicationFailure.create({
          type: 'EventWithoutCredentials',
          message: `Event ${input.eventId} carries no usable credential facts (client_id, key_id, key_algorithm).`,
          nonRetryable: true,
        });
      }
      const stored = await store.eventCredentials.get(input.eventId);
      if (stored) {
        // A rotation may come without links (the schema accepts it): the account's token URL is the install's.
        const tokenUrl = record.event.links.tokens ?? (await knownTokenUrl(input.installationId));
        if (!tokenUrl) {
          throw ApplicationFailure.create({
            type: 'EventWithoutTokenUrl',
            message: `Event ${input.eventId} has no _links.tokens.href and the installation has no earlier credentials to take it from: a token cannot be requested.`,
            nonRetryable: true,
          });
        }
        await store.credentials
          .importPending({
            installationId: input.installationId,
            clientId,
            keyId: facts.key_id,
            keyAlgorithm: facts.key_algorithm as KeyAlgorithm,
            tokenUrl,
            secret: stored.secret,
            // Where the blob lives now decides its binding: event_credentials, or an older version's inbox record.
            secretFrom: stored.inInbox
              ? inboxCredentialsContext(input.installationId, clientId)
              : eventCredentialsContext(input.installationId, clientId),
            sourceEventId: input.eventId,
            issuedAt: record.createdAt,
          })
          .catch((err: unknown) => {
            throw sealedUnderUnknownKey(err, record.receivedAt) ?? clientIdReused(err, input.eventId) ?? err;
          });
        await store.eventCredentials.delete(input.eventId);
        if (stored.inInbox) await store.inbox.dropLegacyCredentials(input.eventId);
      } else {
        // Imported by an earlier attempt (the copy is deleted after the set is written), unless destroyed since.
        const existing = await store.credentials.get(input.installationId, clientId);
        if (!existing || existing.status === 'destroyed') throw credentialsMissing(input.installationId, clientId);
      }
      const alreadyImported = !stored;
      if (input.activate) {
        // A (re)install replaces every earlier credential set of this installation: only earlier ones. An attempt that
        // outlived its timeout (a local one stalled on a store call) may run after the workflow went on to import a
        // rotation's set, which must not be destroyed from under it.
        const sets = await store.credentials.list(input.installationId);
        const own = sets.find((set) => set.clientId === clientId);
        for (const old of sets) {
          if (old.clientId === clientId || old.status === 'destroyed') continue;
          if (own && old.createdAt.getTime() > own.createdAt.getTime()) continue;
          await store.credentials.destroy(input.installationId, old.clientId);
        }
        await store.credentials.activate(input.installationId, clientId);
      }
      // After the last write of the set: every set destroyed meanwhile, this one perhaps not listed.
      // Not a close that spared it (a same-id reinstall's set, an uninstall's attempt counting its close late).
      if (await store.credentials.closedOver(input.installationId, clientId, closesBefore)) {
        // The set this event's import wrote, not one a same-client reinstall imported over it since (an attempt
        // stalled across the uninstall, whose retried destroy counted two closes, and the reinstall).
        const mine = await store.credentials.get(input.installationId, clientId);
        if (mine?.sourceEventId === input.eventId) await store.credentials.destroy(input.installationId, clientId, undefined, mine);
        throw destroyedWhileImporting(input.installationId, input.eventId);
      }
      logger.info({ installationId: input.installationId, clientId }, 'credentials imported');
      return {
        clientId,
        keyId: facts.key_id,
        keyAlgorithm: facts.key_algorithm as string,
        ...(alreadyImported ? { alreadyImported } : {}),
      };
    },

    /** Proves a credential set by getting a token; the token itself stays in the encrypted cache. */
    async obtainToken(input: InstallationRef & { clientId: string }): Promise<ObtainTokenResult> {
      const t = await accessToken(deps, input.installationId, input.clientId);
      return { expiresAt: new Date(t.expiresAt).toISOString(), scope: t.scope, cached: t.cached };
    },

    /** Makes the rotated set the active one; the previous set retires (or is destroyed at once). */
    async switchCredentials(input: {
      installationId: string;
      clientId: string;
      previousClientId?: string;
      retireAt: string;
      destroyPreviousNow: boolean;
    }): Promise<void> {
      await store.credentials.activate(input.installationId, input.clientId);
      // Destroyed meanwhile (an orphaned pending set's sweep; its secret gone even if a racing activate wrote
      // `active` back): the working set is kept, not retired for a dead one.
      const now = await store.credentials.get(input.installationId, input.clientId);
      if (now?.status !== 'active' || !now.secret) throw credentialsMissing(input.installationId, input.clientId);
      if (input.previousClientId && input.previousClientId !== input.clientId) {
        if (input.destroyPreviousNow) await store.credentials.destroy(input.installationId, input.previousClientId);
        else await store.credentials.scheduleRetirement(input.installationId, input.previousClientId, new Date(input.retireAt));
      }
      logger.info({ installationId: input.installationId, clientId: input.clientId }, 'credentials switched');
    },

    /**
     * Destroys, of the workflow's retiring sets (`clientIds`), those issued before a compromised rotation's event
     * (`issuedBefore`): Talkdesk revoked them when it rotated, so their grace is over. Returns every one of them so
     * issued, also those a lost attempt destroyed (a retry returns the same). A set with no issue time (imported by an
     * older version) keeps its retirement; one no longer retiring (switched to meanwhile) is kept.
     */
    async destroyRevokedCredentials(
      input: InstallationRef & { clientIds: string[]; issuedBefore: string },
    ): Promise<{ clientIds: string[] }> {
      const before = Date.parse(input.issuedBefore);
      // No time to judge by (the callback's schema refuses such an event): nothing is known to be revoked.
      if (!Number.isFinite(before)) return { clientIds: [] };
      const revoked: string[] = [];
      for (const clientId of input.clientIds) {
        const rec = await store.credentials.get(input.installationId, clientId);
        if (!rec?.issuedAt || rec.issuedAt.getTime() >= before || (rec.status !== 'retiring' && rec.status !== 'destroyed')) continue;
        if (rec.status === 'retiring') await store.credentials.destroy(input.installationId, clientId, 'retiring', rec);
        revoked.push(clientId);
      }
      logger.info({ installationId: input.installationId, destroyed: revoked.length }, 'revoked retiring credentials destroyed');
      return { clientIds: revoked };
    },

    /**
     * Deletes the encrypted copy of an event's credentials that will never be imported (an install or
     * rotation a finished installation ignored); before, it stayed until the inbox retention. By event id
     * alone: a reinstall's copy, queued behind it, is left for its own import.
     */
    async discardEventCredentials(input: InstallationRef & { eventId: string }): Promise<{ deleted: boolean }> {
      const deleted = await store.eventCredentials.delete(input.eventId);
      // An event stored by an older version kept its copy in the inbox record (while a start found some left).
      if (!(await store.markers.get(MARKERS.inboxLegacyCredentialsNone))) await store.inbox.dropLegacyCredentials(input.eventId);
      logger.info({ installationId: input.installationId, eventId: input.eventId }, "ignored event's credentials discarded");
      return { deleted };
    },

    /**
     * Destroys one credential set, or all of the installation's: the ciphertext is deleted, not only marked.
     * Spared, as not this installation's to destroy: `keepEventIds` (installs and rotations queued in the
     * workflow behind the phase that ends) and copies of events newer than `keepNewerThan` (the event whose
     * phase ends: a reinstall of the same installation id, or its rotation, stored by the callback but perhaps
     * not yet handed over).
     */
    async destroyCredentials(
      input: InstallationRef & { clientId?: string; keepEventIds?: string[]; keepNewerThan?: string },
    ): Promise<{ destroyed: number }> {
      const began = Date.now();
      let destroyed: number;
      if (input.clientId) destroyed = Number(await store.credentials.destroy(input.installationId, input.clientId));
      else {
        const kept = {
          except: input.keepEventIds,
          keepNewerThan: input.keepNewerThan ? new Date(input.keepNewerThan) : undefined,
        };
        // The events' copies never imported (expired, superseded), and any an older version left in the inbox,
        // first: an import that reads the close count after destroyAll moved it finds no copy (closeCount).
        const copies =
          (await store.eventCredentials.deleteAll(input.installationId, kept)) +
          // The inbox is searched for them only while a start found some left (a marker read by _id).
          ((await store.markers.get(MARKERS.inboxLegacyCredentialsNone))
            ? 0
            : await store.inbox.moveLegacyCredentials({ installationId: input.installationId, drop: true, kept }));
        // An attempt the server already retried (the workflow may have gone on to a reinstall's import) stops here.
        stopIfOutlived(began, 'destroy the credentials');
        destroyed = copies + (await store.credentials.destroyAll(input.installationId, kept));
      }
      logger.info({ installationId: input.installationId, destroyed }, 'credentials destroyed');
      return { destroyed };
    },
  };
}
