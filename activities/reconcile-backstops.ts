/** The reconciliation pass's daily backstops (activities/reconciliation.ts): how often, and their markers. */

/**
 * The pass's backstops that read a whole collection (events stored without a queue entry, credentials past retention;
 * each has a cheaper primary path) run at most this often, remembered in `store_markers`: their cost grows with the data.
 */
export const BACKSTOP_EVERY_MS = 24 * 3_600_000;
export const INBOX_BACKSTOP_MARKER = 'reconcile-inbox-backstop';
export const CREDENTIALS_BACKSTOP_MARKER = 'reconcile-credentials-backstop';

/**
 * A credential set still pending this long after its import is an orphan: a rotation switches to its set or destroys
 * it before the rotation's seven days end (Talkdesk's limit, and `phaseTimeoutMs`'s default); a day more for margin.
 * Fixed, not read from that default, which running workflows may hold an older, longer value of.
 */
export const PENDING_SET_MAX_AGE_MS = 8 * 24 * 3_600_000;
