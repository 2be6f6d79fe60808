import type { Env } from '../config/env';
import type { Logger } from '../logging/logger';
import type { Store } from '../store';
import { HttpProvisioner } from './http';
import { MongoProvisioner } from './mongodb';
import type { PartnerProvisioner } from './provisioner';

type PartnerEnv = Pick<
  Env,
  'PARTNER_PROVISIONER' | 'PARTNER_HOOKS_URL' | 'PARTNER_HOOKS_SECRET' | 'PARTNER_HOOKS_PAGE_SIZE' | 'PARTNER_HOOKS_TIMEOUT_MS'
>;

/** The implementation PARTNER_PROVISIONER names (the env check made sure http has its URL and secret). */
export function provisionerFromEnv(env: PartnerEnv, store: Store, logger: Logger): PartnerProvisioner {
  if (env.PARTNER_PROVISIONER === 'http') {
    if (!env.PARTNER_HOOKS_URL || !env.PARTNER_HOOKS_SECRET?.length) {
      throw new Error('PARTNER_PROVISIONER=http needs PARTNER_HOOKS_URL and PARTNER_HOOKS_SECRET');
    }
    return new HttpProvisioner({
      url: env.PARTNER_HOOKS_URL,
      secrets: env.PARTNER_HOOKS_SECRET,
      timeoutMs: env.PARTNER_HOOKS_TIMEOUT_MS,
      pageSize: env.PARTNER_HOOKS_PAGE_SIZE,
      calls: store.partnerCalls,
      logger,
    });
  }
  return new MongoProvisioner(store);
}
