import type { Client } from '@temporalio/client';
import type { Logger } from '../src/logging/logger';
import type { PartnerProvisioner } from '../src/partner/provisioner';
import type { Store } from '../src/store';
import type { TalkdeskClient } from '../src/talkdesk/client';
import type { InstallationOptions } from '../workflows/options';

/** What activities need from the outside world; tests pass real or fake ones. */
export interface ActivityDeps {
  store: Store;
  talkdesk: TalkdeskClient;
  logger: Logger;
  /** The partner's product (PARTNER_PROVISIONER, or the partner's own object); the built-in MongoDB one by default. */
  partner?: PartnerProvisioner;
  /** Scopes asked for in every token (the four the lifecycle needs when omitted: tokens.ts). */
  scopes?: string[];
  /** A cached token is reused while it has at least this long to live. */
  tokenMinValidityMs?: number;
  /** For reconciliation: starting and signalling installation workflows. */
  temporal?: { client: Client; taskQueue: string; workflowOptions?: Partial<InstallationOptions> };
}
