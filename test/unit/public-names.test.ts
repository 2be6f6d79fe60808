import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/local/tools';
import { HOOK_TYPES, SIGNATURE_HEADER, TIMED_SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../src/partner';
import { CALLBACK_PATH } from '../../src/web/app';
import { APP_LOGOUT_PATH, APP_PATH, SIGNED_OUT_PATH } from '../../src/web/launch/app-page';
import { SESSION_COOKIE, SSO_COOKIE } from '../../src/web/launch/http';
import { JWKS_PATH } from '../../src/web/launch/index';
import { FAILURE_REASONS } from '../../src/web/launch/reasons';
import { LAUNCH_PATH, SSO_CALLBACK_PATH } from '../../src/web/launch/sign-in';
import { SECURITY_HEADERS } from '../../src/web/security-headers';
import { ECDSA_HEADER, ECDSA_KEY_ID_HEADER, HMAC_HEADER } from '../../src/web/signature-schemes';
import { allDocs, doc, readme, section, source, tableRows } from '../support/docs';

/**
 * The public names of launch, the partner interface and hardening, checked both ways
 * between the code and README.md / docs/ (readme.test.ts does the same for the
 * configuration, the callback and Temporal): every route the web process serves is
 * in the README's HTTP table and every row there is served, every header, cookie,
 * hook type, sign-in reason and metric the code uses is documented, and the tables
 * of docs/partner.md and docs/launch.md name nothing the code does not have.
 */

/** The path constants the routers use, by name; a router using another one fails the test until it is added here. */
const PATH_CONSTANTS: Record<string, string> = {
  CALLBACK_PATH,
  LAUNCH_PATH,
  SSO_CALLBACK_PATH,
  APP_PATH,
  APP_LOGOUT_PATH,
  SIGNED_OUT_PATH,
  JWKS_PATH,
};

/** `METHOD /path` of every `router.get`/`router.post` in src/web/ (public and admin listeners, launch). */
function servedRoutes(): string[] {
  const files = [
    'src/web/app.ts',
    'src/web/admin.ts',
    ...readdirSync(path.join(PROJECT_ROOT, 'src/web/launch'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `src/web/launch/${f}`),
  ];
  return files.flatMap((file) =>
    [...source(file).matchAll(/router\.(get|post|put|patch|delete|all)\(\s*('([^']+)'|[A-Z_]+)/g)].map((m) => {
      const [, method = '', arg = '', literal] = m;
      const p = literal ?? PATH_CONSTANTS[arg];
      assert.ok(p, `${file}: router.${method}(${arg}): add ${arg} to PATH_CONSTANTS`);
      return `${method.toUpperCase()} ${p}`;
    }),
  );
}

describe('public names of launch, partner and hardening in README.md and docs/', () => {
  it('documents every route the web process serves in the README, and the README lists only served routes', () => {
    const served = servedRoutes();
    assert.ok(served.length >= 10, `routes found: ${served.join(', ')}`);
    const table = tableRows(section('Public interface'));
    const documented = table.map((r) => /^`((GET|POST|PUT|PATCH|DELETE) \/[^`\s]*)`$/.exec(r[0] ?? '')?.[1]).filter((r) => r !== undefined);
    assert.deepEqual([...documented].sort(), [...new Set(served)].sort());
  });

  it('documents the launch pages in docs/launch.md and only routes that are served', () => {
    const served = new Set(servedRoutes());
    const rows = tableRows(doc('launch.md'))
      .map((r) => /^`((?:GET|POST) \/[^`?\s]*)/.exec(r[0] ?? '')?.[1])
      .filter((r): r is string => r !== undefined);
    assert.ok(rows.length >= 6, `routes in docs/launch.md: ${rows.join(', ')}`);
    for (const route of rows) assert.ok(served.has(route), `docs/launch.md documents ${route}, which the web process does not serve`);
    for (const p of [LAUNCH_PATH, SSO_CALLBACK_PATH, APP_PATH, APP_LOGOUT_PATH, SIGNED_OUT_PATH, JWKS_PATH]) {
      assert.ok(
        rows.some((r) => r.endsWith(` ${p}`)),
        `${p} is not in docs/launch.md`,
      );
    }
  });

  it('names the sign-in failure reasons exactly as the code has them, with their statuses', () => {
    const rows = tableRows(doc('launch.md')).filter((r) => /^\d{3}$/.test(r[0] ?? '') && /^`[a-z_]+`$/.test(r[1] ?? ''));
    const documented = new Map(rows.map((r) => [(r[1] ?? '').slice(1, -1), Number(r[0])]));
    const inCode = new Map(Object.entries(FAILURE_REASONS).map(([code, r]) => [code, r.status]));
    assert.deepEqual(documented, inCode);
  });

  it('names the cookies, the headers and the metrics the code uses', () => {
    const lower = allDocs.toLowerCase();
    for (const cookie of [SSO_COOKIE, SESSION_COOKIE]) assert.ok(allDocs.includes(`\`${cookie}\``), `cookie ${cookie}`);
    for (const header of [HMAC_HEADER, ECDSA_HEADER, ECDSA_KEY_ID_HEADER, SIGNATURE_HEADER, 'x-forwarded-for']) {
      assert.ok(lower.includes(`\`${header}`), `header ${header} is not documented`);
    }
    for (const [header, value] of Object.entries(SECURITY_HEADERS)) {
      assert.ok(doc('security.md').includes(`\`${header}: ${value}\``), `security header ${header}: ${value} is not in docs/security.md`);
    }
    const metrics = ['src/web/metrics.ts', 'src/web/launch/context.ts'].flatMap((f) =>
      [...source(f).matchAll(/name: '(appconnect_[a-z_]+)'/g)].map((m) => m[1] ?? ''),
    );
    assert.ok(metrics.length >= 4, `metrics found: ${metrics.join(', ')}`);
    for (const metric of metrics) assert.ok(readme.includes(`\`${metric}`), `metric ${metric} is not in the README`);
  });

  it('documents every partner hook type in docs/partner.md, and names no other', () => {
    const partner = doc('partner.md');
    for (const type of HOOK_TYPES) assert.ok(partner.includes(`\`${type}\``), `hook type ${type} is not in docs/partner.md`);
    const named = new Set([...partner.matchAll(/`((?:account|user)\.[a-z_]+)`/g)].map((m) => m[1] ?? ''));
    for (const type of named) {
      assert.ok((HOOK_TYPES as readonly string[]).includes(type), `docs/partner.md names hook type ${type}, which the code does not send`);
    }
    assert.ok(partner.includes(`\`${SIGNATURE_HEADER}: sha256=`), 'the hook signature header and its form');
    assert.ok(partner.includes(`\`${TIMED_SIGNATURE_HEADER}: sha256=`), 'the timed signature header and its form');
    assert.ok(partner.includes(`\`${TIMESTAMP_HEADER}: `), 'the timestamp header');
  });
});
