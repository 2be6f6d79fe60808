import { Counter } from 'prom-client';
import type { Logger } from '../../logging/logger';
import type { Keyring } from '../../crypto/secrets';
import { ActiveCredentials } from '../../sso/active-credentials';
import { SealedStates } from '../../sso/sealed-state';
import type { LaunchSettings } from '../../sso/settings';
import { SsoStateStore } from '../../sso/state-store';
import type { Store } from '../../store';
import { LogoutEventStore } from '../../store/logout-events';
import { SessionStore } from '../../store/sessions';
import { SsoFailureStore } from '../../store/sso-failures';
import { SsoLinksStore } from '../../store/sso-links';
import type { StarterContentStore } from '../../store/starter-content';
import type { TalkdeskClient } from '../../talkdesk/client';
import type { TrustProxy } from '../client-address';
import type { WebMetrics } from '../metrics';
import { FailedSignInBudget } from './failure-budget';
import { LicensedUsersReads } from './licensed-reads';
import { LogoutForwarder, LOGOUT_FORWARD_TIMING } from '../../partner/logout';
import { PendingLogoutStore } from '../../partner/logout-forwards';
import type { UserLogoutRequest } from '../../partner/provisioner';

/** What the partner's hooks receive when Talkdesk says a user logged out (after their sessions ended). */
export type UserLogoutNotice = UserLogoutRequest;
/** Throwing means "not taken": the logout is sent again later (LogoutForwarder). */
export type UserLogoutHook = (e: UserLogoutNotice) => Promise<void>;

export interface LaunchOptions {
  settings: LaunchSettings;
  talkdesk: TalkdeskClient;
  /** Forwards user.logout to the partner (e.g. the HTTP provisioner); none by default. */
  onUserLogout?: UserLogoutHook;
  /** When a failed forward is sent again (LOGOUT_FORWARD_TIMING), and how often due ones are looked for. */
  logoutForwardTiming?: Partial<typeof LOGOUT_FORWARD_TIMING> & { passIntervalMs?: number };
  /** The backstop pass for a stored user.logout never handled: how often, and after how long (logout-handling.ts); tests shorten them. */
  logoutBackstop?: { passMs?: number; afterMs?: number };
  /** Failed sign-ins a minute per source (SSO_FAILED_SIGN_INS_PER_MINUTE); 0 or unset: no limit. */
  failedSignInsPerMinute?: number;
  /** How long a licensed-users read is shared (licensed-reads.ts); LICENSED_READ_REUSE_MS by default. */
  licensedReadReuseMs?: number;
}

/** What the web server adds to LaunchOptions. */
export interface LaunchParts {
  appId: string;
  store: Store;
  logger: Logger;
  metrics: WebMetrics;
  keyring: Keyring;
  /** Which proxies' X-Forwarded-For is believed (TRUST_PROXY), for the failed sign-in budget's source. */
  trustProxy?: TrustProxy;
}

/** Everything the launch routes share. */
export interface LaunchContext {
  settings: LaunchSettings;
  talkdesk: TalkdeskClient;
  /** Delivers user.logout to `onUserLogout` until it is taken; absent without a hook. */
  logoutForwarder?: LogoutForwarder;
  appId: string;
  store: Store;
  logger: Logger;
  sessions: SessionStore;
  states: SsoStateStore;
  /** Sign-in states the browser keeps (sealed-state.ts); spent through `states`. */
  signInStates: SealedStates;
  /** The active credential sets sign-ins read, kept a minute (active-credentials.ts). */
  credentials: ActiveCredentials;
  failures: SsoFailureStore;
  links: SsoLinksStore;
  starter: Pick<StarterContentStore, 'get'>;
  logoutEvents: LogoutEventStore;
  ssoTotal: Counter<'outcome'>;
  /** Failed sign-ins per source (failure-budget.ts); absent when off. */
  failedSignIns?: FailedSignInBudget;
  /** Licensed-users reads on a sign-in's miss, shared per installation (licensed-reads.ts). */
  licensedReads: LicensedUsersReads;
  /** APP_BASE_URL, or the server's own address once it listens. */
  baseUrl(): string;
}

export function createLaunchContext(o: LaunchOptions & LaunchParts): LaunchContext & { setServerUrl(url: string): void } {
  let serverUrl = '';
  const states = new SsoStateStore(o.store.db);
  return {
    settings: o.settings,
    talkdesk: o.talkdesk,
    ...(o.onUserLogout ? { logoutForwarder: logoutForwarder(o, o.onUserLogout) } : {}),
    appId: o.appId,
    store: o.store,
    logger: o.logger.child({ area: 'launch' }),
    sessions: new SessionStore(o.store.db),
    states,
    signInStates: new SealedStates(o.keyring, states),
    credentials: new ActiveCredentials(o.store.credentials),
    failures: new SsoFailureStore(o.store.db),
    links: new SsoLinksStore(o.store.db),
    starter: o.store.starterContent,
    logoutEvents: new LogoutEventStore(o.store.db),
    ssoTotal: new Counter({
      name: 'appconnect_sso_total',
      help: 'Sign-ins from Talkdesk, by outcome: ok or the failure reason code',
      labelNames: ['outcome'] as const,
      registers: [o.metrics.registry],
    }),
    ...(o.failedSignInsPerMinute
      ? { failedSignIns: new FailedSignInBudget({ perMinute: o.failedSignInsPerMinute, trustProxy: o.trustProxy }) }
      : {}),
    licensedReads: new LicensedUsersReads(o.licensedReadReuseMs),
    baseUrl: () => o.settings.appBaseUrl ?? serverUrl,
    setServerUrl(url: string) {
      serverUrl = url;
    },
  };
}

/** Cookie settings: Secure whenever the public base URL is https. */
export function cookieBase(lc: LaunchContext, path: string) {
  return { path, sameSite: lc.settings.sameSite, secure: lc.baseUrl().startsWith('https://') };
}

function logoutForwarder(o: LaunchOptions & { store: Store; logger: Logger; metrics: WebMetrics }, hook: UserLogoutHook): LogoutForwarder {
  const forwards = new Counter({
    name: 'appconnect_partner_logout_forwards_total',
    help: 'user.logout forwards to the partner, by outcome: delivered (the partner answered), retry (sent again later) or given_up (after a day)',
    labelNames: ['outcome'] as const,
    registers: [o.metrics.registry],
  });
  return new LogoutForwarder({
    store: new PendingLogoutStore(o.store.db),
    forward: hook,
    logger: o.logger.child({ area: 'launch' }),
    onOutcome: (outcome) => forwards.inc({ outcome }),
    ...(o.logoutForwardTiming ? { timing: o.logoutForwardTiming } : {}),
  });
}
