import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { loadEnv } from '../../src/config/env';
import { generateKeySpec } from '../../src/crypto/secrets';
import { ConfigError } from '../../src/errors';
import { PROJECT_ROOT } from '../../src/local/tools';
import { launchSettingsFromEnv, launchWarnings, SUPPORT_CONTACT_PLACEHOLDER, type LaunchSettings } from '../../src/sso/settings';
import { generateSigningKeySpec, parseSigningKeys } from '../../src/sso/signing-keys';
import { framingOf, pageHeaders } from '../../src/web/launch/http';

const VALID = { TALKDESK_APP_ID: 'app1', TALKDESK_WEBHOOK_SECRET: 'a-webhook-secret-of-some-length', SECRETS_KEY: generateKeySpec('k1') };
const settings = (extra: Record<string, string>) => launchSettingsFromEnv(loadEnv({ ...VALID, ...extra }));

describe('launch configuration', () => {
  it('has the documented defaults', () => {
    const s = settings({});
    assert.deepEqual(s.scopes, ['openid']);
    assert.equal(s.clientAuth, 'private_key_jwt');
    assert.equal(s.sessionTtlMs, 8 * 3600_000);
    assert.equal(s.sameSite, 'lax');
    assert.deepEqual(s.widgetHosts, ['prd-cdn-talkdesk.talkdesk.com']);
    assert.equal(s.appBaseUrl, undefined);
    assert.equal(s.appHomeUrl, undefined);
    assert.deepEqual(s.signingKeys, []);
    assert.equal(s.supportContact, SUPPORT_CONTACT_PLACEHOLDER);
    const custom = settings({
      SSO_SCOPES: 'openid users:read',
      SESSION_TTL_HOURS: '0.5',
      APP_BASE_URL: 'https://app.example.com/',
      TALKDESK_WIDGET_HOSTS: '',
    });
    assert.deepEqual(custom.scopes, ['openid', 'users:read']);
    assert.equal(custom.sessionTtlMs, 1_800_000);
    assert.equal(custom.appBaseUrl, 'https://app.example.com', 'trailing slash dropped');
    assert.deepEqual(custom.widgetHosts, []);
    // As a widget_url's host reads: lowercase, no default port.
    assert.deepEqual(settings({ TALKDESK_WIDGET_HOSTS: 'CDN.Example.com:443, cdn2.example.com:8443' }).widgetHosts, [
      'cdn.example.com',
      'cdn2.example.com:8443',
    ]);
    assert.throws(() => settings({ TALKDESK_WIDGET_HOSTS: 'cdn.example.com/path?x' }), /TALKDESK_WIDGET_HOSTS/);
  });

  it('requires APP_BASE_URL and SUPPORT_CONTACT in production', () => {
    assert.throws(
      () => settings({ NODE_ENV: 'production', SUPPORT_CONTACT: 'x' }),
      (e: unknown) => e instanceof ConfigError && /APP_BASE_URL/.test(e.message),
    );
    assert.throws(
      () => settings({ NODE_ENV: 'production', APP_BASE_URL: 'https://a.example' }),
      (e: unknown) => e instanceof ConfigError && /SUPPORT_CONTACT/.test(e.message),
    );
    assert.equal(
      settings({ NODE_ENV: 'production', APP_BASE_URL: 'https://a.example', SUPPORT_CONTACT: 'help@a.example' }).supportContact,
      'help@a.example',
    );
  });

  it('refuses settings that cannot work: a hand-off without keys, SameSite=None over http, bad values', () => {
    assert.throws(() => settings({ APP_HOME_URL: 'https://partner.example/home' }), /SSO_SIGNING_KEYS/);
    assert.throws(() => settings({ SESSION_COOKIE_SAMESITE: 'none', APP_BASE_URL: 'http://a.example' }), /https/);
    assert.equal(settings({ SESSION_COOKIE_SAMESITE: 'none', APP_BASE_URL: 'https://a.example' }).sameSite, 'none');
    assert.throws(() => loadEnv({ ...VALID, SSO_CLIENT_AUTH: 'none' }), /SSO_CLIENT_AUTH/);
    assert.throws(() => loadEnv({ ...VALID, APP_BASE_URL: 'ftp://a.example' }), /APP_BASE_URL/);
    // Under a path the cookies' paths and the redirects to /app would miss it: refused at start, not at every sign-in.
    for (const bad of ['https://partner.example/appconnect', 'https://partner.example/?x=1', 'https://partner.example#f'])
      assert.throws(() => loadEnv({ ...VALID, APP_BASE_URL: bad }), /APP_BASE_URL.*origin with no path/);
    assert.equal(loadEnv({ ...VALID, APP_BASE_URL: 'https://partner.example:8443/' }).APP_BASE_URL, 'https://partner.example:8443');
    assert.throws(() => loadEnv({ ...VALID, SESSION_TTL_HOURS: '0' }), /SESSION_TTL_HOURS/);
  });

  it('APP_FRAME_ANCESTORS: https origins only; with SameSite=None the pages may be framed by those alone (else by none)', () => {
    const framing = (s: LaunchSettings, o: { listedOnly?: boolean } = {}) => {
      const headers: Record<string, string> = {};
      const ctx = { set: (k: string, v: string) => (headers[k] = v) } as unknown as Parameters<typeof pageHeaders>[0];
      pageHeaders(ctx, { nonce: 'n', ...framingOf(s, o) });
      return /frame-ancestors ([^;]+)/.exec(headers['Content-Security-Policy'] ?? '')?.[1];
    };
    assert.deepEqual(settings({}).frameAncestors, []);
    assert.equal(framing(settings({})), "'none'");
    const framed = { SESSION_COOKIE_SAMESITE: 'none', APP_BASE_URL: 'https://a.example' };
    assert.equal(framing(settings(framed)), undefined, 'any origin when none is listed');
    assert.equal(framing(settings(framed), { listedOnly: true }), "'none'", 'but never the hand-off, which signs in at once');
    assert.equal(framing(settings({}), { listedOnly: true }), "'none'");
    const listed = settings({ ...framed, APP_FRAME_ANCESTORS: 'https://*.mytalkdesk.com, https://b.example:8443' });
    assert.deepEqual(listed.frameAncestors, ['https://*.mytalkdesk.com', 'https://b.example:8443']);
    assert.equal(framing(listed), 'https://*.mytalkdesk.com https://b.example:8443');
    assert.equal(framing(listed, { listedOnly: true }), 'https://*.mytalkdesk.com https://b.example:8443');
    const prod = { NODE_ENV: 'production', SUPPORT_CONTACT: 'help@a.example' };
    assert.match(launchWarnings(settings({ ...framed, ...prod }), true).join(), /APP_FRAME_ANCESTORS/);
    assert.deepEqual(launchWarnings({ ...listed, supportContact: 'help@a.example' }, true), []);
    assert.match(launchWarnings(listed, true).join(), /SUPPORT_CONTACT is not set/);
    assert.match(launchWarnings(settings({ ...prod, APP_BASE_URL: 'http://app.example.com' }), true).join(), /APP_BASE_URL is http/);
    const handedOff = { ...listed, supportContact: 'help@a.example', appHomeUrl: 'https://app.partner.example' };
    assert.match(launchWarnings(handedOff, true, { partnerHooks: false }).join(), /never signed out of it/);
    assert.deepEqual(launchWarnings(handedOff, true, { partnerHooks: true }), []);
    const home = (url: string) => launchWarnings({ ...listed, supportContact: 'help@a.example', appHomeUrl: url }, true).join();
    assert.match(home('http://partner.example.com/sso'), /APP_HOME_URL is http: the hand-off token .* in clear/);
    assert.equal(home('https://partner.example.com/sso'), '');
    assert.equal(home('http://localhost:8080/sso'), '', 'a partner app on this machine');
    // docker-compose.yml's local defaults start in production, so they are said at start.
    assert.deepEqual(launchWarnings(settings({ ...prod, APP_BASE_URL: 'http://localhost:3000' }), true), [
      "APP_BASE_URL is http://localhost:3000: Talkdesk sends users back to that address, so sign-in works only from this machine; set this service's public URL",
    ]);
    assert.deepEqual(launchWarnings(settings(framed), false), [], 'said in production only');
    assert.match(
      launchWarnings(settings({ ...prod, APP_BASE_URL: 'https://a.example', SSO_CLIENT_AUTH: 'client_secret_basic' }), true).join(),
      /private_key_jwt/,
    );
    for (const bad of ['http://a.example', 'https://a.example/path', "'self'", 'https://a.example; script-src *'])
      assert.throws(() => loadEnv({ ...VALID, APP_FRAME_ANCESTORS: bad }), /APP_FRAME_ANCESTORS/, bad);
  });

  it('parses SSO_SIGNING_KEYS (first signs, all published) and never quotes a key in an error', () => {
    const keys = parseSigningKeys(`${generateSigningKeySpec('a')}, ${generateSigningKeySpec('b')}`);
    assert.deepEqual(
      keys.map((k) => k.kid),
      ['a', 'b'],
    );
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    assert.throws(
      () => parseSigningKeys(`r:${rsa}`),
      (e: unknown) => e instanceof ConfigError && /P-256/.test(e.message) && !e.message.includes(rsa.slice(20, 60)),
    );
    assert.throws(() => parseSigningKeys('nokid'), /key id/);
    assert.throws(() => parseSigningKeys('k:bm90IGEga2V5'), /PKCS#8/);
    const spec = generateSigningKeySpec('dup');
    assert.throws(() => parseSigningKeys(`${spec},${spec}`), /twice/);
  });

  it('the web process stops at start-up (exit 2) without APP_BASE_URL in production', () => {
    const res = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/entry/web.js')], {
      env: { PATH: process.env.PATH, ...VALID, NODE_ENV: 'production', SUPPORT_CONTACT: 'help@a.example' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(res.status, 2, res.stderr);
    assert.match(res.stderr, /APP_BASE_URL/);
  });
});
