import { ExpiringMap } from '../memory/expiring-map';
import type { CredentialStore, UsableCredentials } from '../store/credentials';

/** How long a sign-in reuses a credential set it read; a set never changes once imported, only its status. */
export const ACTIVE_CREDENTIALS_TTL_MS = 60_000;
const KEPT = 1_000;

/**
 * The usable credential set of an installation's active client id, kept in this process for a
 * minute (then dropped, used or not) so repeated sign-ins skip the read and the decryption (issue 16). Safe to reuse: a set
 * is immutable once imported (only its status moves), and every sign-in still reads the
 * installation record, whose phase and `activeClientId` pick the set; a destroyed set may be
 * used for at most a minute after an uninstall that left the record usable, and Talkdesk
 * refuses it then. The client-assertion key itself is already kept, by hash (talkdesk/assertion.ts).
 */
export class ActiveCredentials {
  // Decrypted secrets: gone a minute after they were read even when never asked for again (an uninstalled account's).
  private readonly kept: ExpiringMap<UsableCredentials>;

  constructor(
    private readonly store: Pick<CredentialStore, 'usable'>,
    ttlMs = ACTIVE_CREDENTIALS_TTL_MS,
  ) {
    this.kept = new ExpiringMap(ttlMs, KEPT);
  }

  async usable(installationId: string, clientId: string, now = Date.now()): Promise<UsableCredentials | undefined> {
    const key = `${installationId}\0${clientId}`;
    const hit = this.kept.get(key, now);
    if (hit) return hit;
    const creds = await this.store.usable(installationId, clientId);
    if (creds) this.kept.set(key, creds, now);
    return creds;
  }

  /** Drops a set a sign-in saw refused, so the next one reads it again. */
  forget(installationId: string, clientId: string): void {
    this.kept.delete(`${installationId}\0${clientId}`);
  }

  /** How many sets are held now (tests). */
  get size(): number {
    return this.kept.size;
  }
}
