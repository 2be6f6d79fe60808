import type { InstallationRecord } from '../../store/installations';
import type { UserMappingRecord } from '../../store/accounts';
import { credentialId } from '../../store/credential-ids';
import { tokenRequestFor } from '../../talkdesk/token-grants';
import type { LaunchContext } from './context';
import { SsoFailure, talkdeskFailure } from './reasons';

export type Role = 'admin' | 'user';

/** The role the partner's provisioning gave the user (the installing admin is `admin`); none means `user`. */
export const roleOf = (m: UserMappingRecord): Role => ((m as { role?: unknown }).role === 'admin' ? 'admin' : 'user');

/**
 * The user's licence for this installation: the mapping provisioning keeps; on a miss the
 * licensed users are read from Talkdesk once (a user licensed after install, whose
 * app.updated was not applied yet or never came) and upserted before refusing.
 */
export async function licensedUser(
  lc: LaunchContext,
  rec: InstallationRecord,
  talkdeskUserId: string,
  /** The mapping's read, when the caller started it already (the launch's hint named this user). */
  read?: Promise<UserMappingRecord | null>,
): Promise<UserMappingRecord> {
  const accountId = rec.accountId ?? '';
  const facts = { installationId: rec._id, accountId, accountName: rec.accountName };
  const find = () => lc.store.accounts.users.findOne({ _id: `${accountId}:${talkdeskUserId}` });
  const usable = (m: UserMappingRecord | null) => (m && m.active && m.installationId === rec._id ? m : undefined);
  const missed = await (read ?? find());
  const known = usable(missed);
  if (known) return known;

  // A shared read older than the mapping's last write (a removal the workflow applied since) would
  // write the mapping back as active, as of before the removal: only a read begun after it is taken.
  await refreshFromTalkdesk(lc, rec, talkdeskUserId, missed ? { notBefore: missed.updatedAt } : {});
  const refreshed = usable(await find());
  if (!refreshed) throw new SsoFailure('not_licensed', facts);
  return refreshed;
}

/**
 * Whether Talkdesk lists the user as licensed for the installation now; if it does, their mapping is
 * written as of when it was asked (only theirs). Refusals and outages are the sign-in's failures.
 */
export async function refreshFromTalkdesk(
  lc: LaunchContext,
  rec: InstallationRecord,
  talkdeskUserId: string,
  /** `fresh`: read now, not shared with an earlier sign-in's read (its list may predate a removal mark); `notBefore`: share only a read begun since. */
  o: { fresh?: boolean; notBefore?: Date } = {},
): Promise<boolean> {
  const accountId = rec.accountId ?? '';
  const facts = { installationId: rec._id, accountId, accountName: rec.accountName };
  const creds = rec.activeClientId ? await lc.credentials.usable(rec._id, rec.activeClientId) : undefined;
  if (!creds || !rec.links.root) throw new SsoFailure('installation_inactive', { ...facts, detail: 'no_credentials' });
  const root = rec.links.root;
  try {
    // Shared with the sign-ins that miss meanwhile (licensed-reads.ts). `askedAt`: Talkdesk's list as of
    // then, so a removal marked while it is read is newer than the mapping it writes.
    const { users, askedAt, shared } = await lc.licensedReads.read(
      credentialId(rec._id, creds.clientId), // escaped: ids holding `:` cannot share another installation's read
      async () => {
        // Not cached: the cache holds the workflow's token with every scope, this one has apps:read only.
        const token = await lc.talkdesk.requestToken(tokenRequestFor(creds, ['apps:read'])).catch((err: unknown) => {
          // As at the code exchange, on any failure: a set Talkdesk refused (rotated, revoked) is read
          // afresh next time; after a timeout that costs one store read.
          lc.credentials.forget(creds.installationId, creds.clientId);
          throw err;
        });
        return lc.talkdesk.listLicensedUsers(root, lc.appId, rec._id, token.accessToken);
      },
      o,
    );
    // Only the user signing in: the workflow owns everyone else's mapping. Writing them all from here
    // raced its app.updated (a user it had just deactivated put back on the account's licensed list).
    const me = users.filter((u) => u.id === talkdeskUserId);
    if (me.length > 0) {
      // The role as the installation's provision and updates give it: its installing administrator's, no one else's
      // (kept from the mapping, an earlier same-id life's administrator would sign in as this one's).
      const account = await lc.store.accounts.getAccount(accountId);
      const admin = account?.installationId === rec._id ? account.createdBy : undefined;
      await lc.store.accounts.upsertUsers(
        accountId,
        rec._id,
        me.map((u) => ({ id: u.id, email: u.email, name: u.name, role: u.id === admin ? ('admin' as const) : ('user' as const) })),
        askedAt,
      );
    }
    lc.logger.info({ installationId: rec._id, licensedUsers: users.length, shared }, 'licensed users refreshed from Talkdesk at sign-in');
    return me.length > 0;
  } catch (err) {
    throw talkdeskFailure(err, facts, 'licensed_users');
  }
}
