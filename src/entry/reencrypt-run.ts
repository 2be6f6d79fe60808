import type { Keyring } from '../crypto/secrets';
import { InboxStore } from '../handover/inbox';
import type { Database } from '../store/db';
import { countBlobsByKid, reencryptAll, type FieldReport } from '../store/reencrypt';
import { LeaseHeldError, LeaseLostError, REENCRYPT_LEASE, RunLease } from '../store/run-lease';

/** What `npm run reencrypt` does once configured and connected (src/entry/reencrypt.ts); its exit code. */
export interface ReencryptArgs {
  batchSize: number;
  dryRun: boolean;
  /** How long the lease outlives its last renewal (run-lease.ts); tests shorten it. */
  leaseTtlMs?: number;
}

function progressLine(r: FieldReport): string {
  return `${r.collection}.${r.field}: ${r.found} found, ${r.reencrypted} re-encrypted, ${r.changedMeanwhile} changed meanwhile, ${r.failed} failed`;
}

export async function runReencrypt(
  db: Database,
  keyring: Keyring,
  args: ReencryptArgs,
  out: { err(line: string): void; out(line: string): void },
): Promise<number> {
  let lease: RunLease | undefined;
  try {
    out.err(
      `reencrypt: current key id ${keyring.currentKid}; other key ids ${JSON.stringify(keyring.kids.slice(1))}${args.dryRun ? ' (dry run)' : ''}`,
    );
    // One writing run at a time (a dry run writes nothing): overlapping moves of one record can lose a write.
    try {
      if (!args.dryRun) lease = await RunLease.acquire(db, REENCRYPT_LEASE, args.leaseTtlMs);
    } catch (err) {
      if (!(err instanceof LeaseHeldError)) throw err;
      out.err(`reencrypt: ${err.message} (nothing was changed)`);
      return 1;
    }
    // Credentials older versions kept in inbox records: into event_credentials, where the run finds them.
    if (!args.dryRun) await new InboxStore(db).moveLegacyCredentials();
    const before = await countBlobsByKid(db);
    const report = await reencryptAll(db, keyring, {
      batchSize: args.batchSize,
      dryRun: args.dryRun,
      onProgress: (r) => out.err(`reencrypt: ${progressLine(r)}`),
      guard: () => lease?.assertHeld(),
    });
    for (const r of report.ids) {
      if (r.moved + r.dropped > 0)
        out.err(
          `reencrypt: ${r.collection}: ${r.moved} record(s) ${args.dryRun ? 'to move' : 'moved'} to collision-free ids, ${r.dropped} stale legacy record(s) dropped`,
        );
    }
    const after = await countBlobsByKid(db);
    out.out(JSON.stringify({ ...report, blobsByKidBefore: before, blobsByKidAfter: after }));
    for (const f of report.fields) {
      if (f.failed > 0) {
        out.err(
          `reencrypt: ${f.failed} blob(s) in ${f.collection}.${f.field} could not be decrypted (key ids ${JSON.stringify(f.failedKids)}): ` +
            'add the missing keys to SECRETS_KEY after the current one, or remove those records',
        );
      }
    }
    if (report.complete) out.err(`reencrypt: complete; every secret is under key ${keyring.currentKid}, older keys can be retired`);
    else {
      if (report.totals.remaining > 0) out.err(`reencrypt: ${report.totals.remaining} secret(s) still under older keys; run it again`);
      if (report.legacyInboxCredentials > 0)
        out.err(
          `reencrypt: ${report.legacyInboxCredentials} inbox record(s) of an older version still hold their event's credentials ` +
            '(not handed over yet): keep the older keys, and run it again once the dispatcher has handed them over',
        );
    }
    return report.complete ? 0 : 1;
  } catch (err) {
    if (!(err instanceof LeaseLostError)) throw err;
    out.err(`reencrypt: ${err.message}`);
    return 1;
  } finally {
    await lease?.release().catch(() => undefined); // else it expires on its own
  }
}
