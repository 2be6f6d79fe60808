import type { Env } from '../config/env';
import { ConfigError } from '../errors';
import { parseSigningKeys, type SigningKey } from './signing-keys';

export type ClientAuthMethod = 'private_key_jwt' | 'client_secret_basic';

/** Everything the launch routes are configured with (docs/launch.md). */
export interface LaunchSettings {
  /** Public base URL; undefined: the web server's own address (not in production). */
  appBaseUrl?: string;
  scopes: string[];
  clientAuth: ClientAuthMethod;
  sessionTtlMs: number;
  sameSite: 'lax' | 'none';
  widgetHosts: string[];
  /** With sameSite `none`: the origins that may frame the pages (CSP frame-ancestors); empty: any. */
  frameAncestors: string[];
  appHomeUrl?: string;
  signingKeys: SigningKey[];
  supportContact: string;
  /** How often expired sessions and sign-in states (and old sign-in failure records) are deleted. */
  sweepIntervalMs: number;
  /** Records of failed sign-ins (`sso_failures`) are deleted after this many days. */
  failureRetentionDays: number;
}

export const SUPPORT_CONTACT_PLACEHOLDER = 'your administrator (SUPPORT_CONTACT is not set)';

export const DEFAULT_LAUNCH_SETTINGS: LaunchSettings = {
  scopes: ['openid'],
  clientAuth: 'private_key_jwt',
  sessionTtlMs: 8 * 3600_000,
  sameSite: 'lax',
  widgetHosts: ['prd-cdn-talkdesk.talkdesk.com'],
  frameAncestors: [],
  signingKeys: [],
  supportContact: SUPPORT_CONTACT_PLACEHOLDER,
  sweepIntervalMs: 10 * 60_000,
  failureRetentionDays: 30,
};

/**
 * A TALKDESK_WIDGET_HOSTS entry as a `widget_url` gives its host (`new URL(...).host`): lowercase, without the default
 * port, so that `CDN.example.com:443` matches `https://cdn.example.com/w.js`.
 */
function widgetHost(entry: string): string {
  const url = URL.canParse(`https://${entry}`) ? new URL(`https://${entry}`) : undefined;
  if (!url || url.href !== `https://${url.host}/` || url.host === '')
    throw new ConfigError(`TALKDESK_WIDGET_HOSTS: "${entry}" is not a host or host:port (comma-separated, no scheme or path)`);
  return url.host;
}

/** The web process's launch settings; ConfigError naming the variable when they cannot work. */
export function launchSettingsFromEnv(env: Env): LaunchSettings {
  const production = env.NODE_ENV === 'production';
  if (production && !env.APP_BASE_URL)
    throw new ConfigError('APP_BASE_URL is required when NODE_ENV=production: the public base URL of this service');
  if (production && !env.SUPPORT_CONTACT)
    throw new ConfigError('SUPPORT_CONTACT is required when NODE_ENV=production: shown on every sign-in failure page');
  const settings: LaunchSettings = {
    ...DEFAULT_LAUNCH_SETTINGS,
    appBaseUrl: env.APP_BASE_URL,
    scopes: env.SSO_SCOPES.trim().split(' '),
    clientAuth: env.SSO_CLIENT_AUTH,
    sessionTtlMs: env.SESSION_TTL_HOURS * 3600_000,
    sameSite: env.SESSION_COOKIE_SAMESITE,
    widgetHosts: env.TALKDESK_WIDGET_HOSTS.map(widgetHost),
    frameAncestors: env.APP_FRAME_ANCESTORS ?? [],
    appHomeUrl: env.APP_HOME_URL,
    signingKeys: parseSigningKeys(env.SSO_SIGNING_KEYS),
    supportContact: env.SUPPORT_CONTACT ?? SUPPORT_CONTACT_PLACEHOLDER,
    failureRetentionDays: env.SSO_FAILURE_RETENTION_DAYS,
  };
  checkLaunchSettings(settings, production);
  return settings;
}

/** Settings that work but weaken the sign-in in production: said once at start (the web entry logs them). */
export function launchWarnings(s: LaunchSettings, production: boolean, o: { partnerHooks?: boolean } = {}): string[] {
  if (!production) return [];
  const warnings: string[] = [];
  const base = s.appBaseUrl ? new URL(s.appBaseUrl) : undefined;
  const loopback = base !== undefined && ['localhost', '127.0.0.1', '[::1]'].includes(base.hostname);
  if (base?.protocol === 'http:' && !loopback)
    warnings.push('APP_BASE_URL is http: session cookies are sent without Secure and hand-off tokens travel in clear; use https');
  // docker-compose.yml gives both a local default, so the start-up check for them cannot fire there.
  if (loopback)
    warnings.push(
      `APP_BASE_URL is ${s.appBaseUrl}: Talkdesk sends users back to that address, so sign-in works only from this machine; set this service's public URL`,
    );
  const home = s.appHomeUrl ? new URL(s.appHomeUrl) : undefined;
  if (home?.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(home.hostname))
    warnings.push('APP_HOME_URL is http: the hand-off token (a sign-in for 60 s to whoever holds it) is posted in clear; use https');
  // Only the HTTP provisioner's hooks reach the partner: with the built-in one a sign-out ends this service's sessions alone.
  if (home && o.partnerHooks === false)
    warnings.push(
      'APP_HOME_URL without PARTNER_PROVISIONER=http: users handed to your app are never signed out of it (user.logout, uninstalls and user removals reach only this service); use the HTTP hooks',
    );
  if (s.supportContact === SUPPORT_CONTACT_PLACEHOLDER)
    warnings.push('SUPPORT_CONTACT is not set: sign-in failure pages tell users to contact "your administrator"; set who to contact');
  if (s.sameSite === 'none' && s.frameAncestors.length === 0)
    warnings.push(
      'SESSION_COOKIE_SAMESITE=none without APP_FRAME_ANCESTORS: any site may frame /app and the sign-in pages (the hand-off to APP_HOME_URL refuses every frame until you list them); list the Talkdesk origins your customers use',
    );
  // talkdesk-sso.md: apps listed on AppConnect must authenticate with the signed JWT.
  if (s.clientAuth === 'client_secret_basic')
    warnings.push('SSO_CLIENT_AUTH=client_secret_basic: apps listed on AppConnect must use private_key_jwt (the default)');
  return warnings;
}

export function checkLaunchSettings(s: LaunchSettings, production = false): void {
  if (s.appHomeUrl && s.signingKeys.length === 0)
    throw new ConfigError('APP_HOME_URL needs SSO_SIGNING_KEYS: the hand-off token must be signed');
  const https = s.appBaseUrl?.startsWith('https://') ?? false;
  if (s.sameSite === 'none' && !https && (production || s.appBaseUrl !== undefined)) {
    throw new ConfigError(
      'SESSION_COOKIE_SAMESITE=none needs an https APP_BASE_URL (browsers drop SameSite=None cookies that are not Secure)',
    );
  }
}
