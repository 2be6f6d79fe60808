import { createHash } from 'node:crypto';

/** The operations of the lifecycle, named as the HTTP hooks' `type`. */
export const HOOK_TYPES = [
  'account.provision',
  'account.users',
  'account.update',
  'account.revert_update',
  'account.undo_provision',
  'account.deprovision',
  'account.trial',
  'user.logout',
] as const;
export type HookType = (typeof HOOK_TYPES)[number];

/**
 * The idempotency key of one partner call: a hash of the installation, the Talkdesk
 * event and the operation (and the page), so every retry of the call has the same
 * key and every other call a different one.
 */
export function callKey(installationId: string, eventId: string, operation: HookType, page?: number): string {
  const parts = [installationId, eventId, operation, ...(page !== undefined ? [String(page)] : [])];
  return `hk_${createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 40)}`;
}

/** The key of page `page` (2, 3, ...) of a provision whose own key is `provisionKey`. */
export function pageKey(provisionKey: string, page: number): string {
  return `hk_${createHash('sha256').update(`${provisionKey}\naccount.users\n${page}`).digest('hex').slice(0, 40)}`;
}
