import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadEnv } from '../../src/config/env';
import { generateKeySpec } from '../../src/crypto/secrets';
import { PROJECT_ROOT } from '../../src/local/tools';

/**
 * Supply chain and deployment (issue 15), checked without a Docker engine or the
 * registry: runtime dependencies pinned exactly; the lock file complete enough for
 * `npm ci` (every optional platform binary it names is locked); the image installs
 * with `npm ci --omit=dev --ignore-scripts`; compose probes the right listeners.
 */

const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');

interface LockPackage {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  hasInstallScript?: boolean;
  optionalDependencies?: Record<string, string>;
}

describe('supply chain and deployment', () => {
  const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
  const lock = JSON.parse(read('package-lock.json')) as { lockfileVersion: number; packages: Record<string, LockPackage> };

  it('pins every runtime dependency to an exact version, mongodb included', () => {
    for (const [name, range] of Object.entries(pkg.dependencies)) {
      assert.match(range, /^\d+\.\d+\.\d+$/, `${name}: "${range}" is not an exact version`);
      assert.equal(lock.packages[`node_modules/${name}`]?.version, range, `${name}: the lock file holds the pinned version`);
    }
    assert.ok('mongodb' in pkg.dependencies);
  });

  it('locks every optional platform binary the tree names, so npm ci accepts the lock file', () => {
    assert.ok(lock.lockfileVersion >= 3);
    const missing: string[] = [];
    for (const [where, p] of Object.entries(lock.packages)) {
      for (const dep of Object.keys(p.optionalDependencies ?? {})) {
        // npm resolves a dependency in the nearest node_modules up the tree.
        const parts = where.split('node_modules/').filter((s) => s !== '');
        const candidates = parts.map(
          (_, i) => `node_modules/${[...parts.slice(0, parts.length - i).map((s) => s.replace(/\/$/, '')), dep].join('/node_modules/')}`,
        );
        candidates.push(`node_modules/${dep}`);
        if (!candidates.some((c) => lock.packages[c])) missing.push(`${where} → ${dep}`);
      }
    }
    assert.deepEqual(missing, [], 'optional dependencies missing from the lock file');
    for (const platform of ['linux-x64-gnu', 'linux-arm64-gnu', 'darwin-arm64']) {
      assert.ok(lock.packages[`node_modules/@swc/core-${platform}`], `@swc/core-${platform} is locked`);
    }
  });

  it('has no install script the image skips that the runtime needs: only @swc/core has one', () => {
    const withScripts = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript)
      .map(([where]) => where);
    assert.deepEqual(withScripts, ['node_modules/@swc/core']);
  });

  describe('Dockerfile', () => {
    const instructions = read('Dockerfile')
      .replace(/\\\r?\n/g, ' ')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    const installs = instructions.filter((l) => /^RUN\s.*\bnpm (ci|install|i|prune|update)\b/.test(l));

    it('installs only with npm ci and --ignore-scripts, the runtime tree without dev dependencies', () => {
      assert.ok(installs.length >= 2, installs.join('\n'));
      for (const l of installs) {
        assert.match(l, /\bnpm ci\b/, `not npm ci: ${l}`);
        assert.match(l, /--ignore-scripts\b/, `install scripts not disabled: ${l}`);
      }
      const runtimeInstall = installs.find((l) => /--omit=dev\b/.test(l));
      assert.ok(runtimeInstall, 'one install omits dev dependencies');
      assert.match(runtimeInstall, /require\('@temporalio\/core-bridge'\)/, 'and checks the SDK native core loads');
      const copiedModules = instructions.filter((l) => /^COPY\s+--from=(\S+)\s+\/app\/node_modules\b/.test(l));
      assert.equal(copiedModules.length, 1);
      const stage = /--from=(\S+)/.exec(copiedModules[0] ?? '')?.[1];
      const stageStart = instructions.findIndex((l) => new RegExp(`^FROM\\s.*\\sAS\\s+${stage}$`, 'i').test(l));
      const stageEnd = instructions.findIndex((l, i) => i > stageStart && /^FROM\s/i.test(l));
      const stageLines = instructions.slice(stageStart, stageEnd);
      assert.ok(stageLines.includes(runtimeInstall), 'the image copies node_modules from the --omit=dev install');
    });

    it('runs the admin listener reachable from outside the container and exposes it', () => {
      const last = instructions.slice(instructions.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true));
      assert.ok(
        last.some((l) => /^ENV\s.*\bADMIN_HOST=0\.0\.0\.0\b/.test(l)),
        'ADMIN_HOST=0.0.0.0',
      );
      assert.ok(
        last.some((l) => /^EXPOSE\s.*\b9465\b/.test(l)),
        'EXPOSE 9465',
      );
    });
  });

  describe('docker-compose.yml probes', () => {
    const compose = parseYaml(read('docker-compose.yml')) as {
      services: Record<string, { environment?: Record<string, string>; ports?: string[]; healthcheck?: { test: string[] } }>;
    };
    const web = compose.services.web;

    it('sets ADMIN_HOST=0.0.0.0 in the web container, publishing the admin port on the host loopback only', () => {
      assert.ok(web);
      // Interpolated values (`${VAR:-default}`) come from the user's environment: left out here.
      const literal = Object.entries(web.environment ?? {}).filter(([, v]) => !String(v).includes('${'));
      const env = loadEnv({
        ...Object.fromEntries(literal.map(([k, v]) => [k, String(v)])),
        TALKDESK_APP_ID: 'a',
        TALKDESK_WEBHOOK_SECRET: 'compose-test-webhook-secret',
        SECRETS_KEY: generateKeySpec('k1'),
      });
      assert.equal(env.ADMIN_HOST, '0.0.0.0');
      const adminPorts = (web.ports ?? []).filter((p) => p.endsWith(`:${env.ADMIN_PORT}`));
      assert.deepEqual(adminPorts, [`127.0.0.1:${env.ADMIN_PORT}:${env.ADMIN_PORT}`]);
    });

    it('probes liveness on the public port (/healthz)', () => {
      const test = (web?.healthcheck?.test ?? []).join(' ');
      assert.match(test, /127\.0\.0\.1:3000\/healthz/);
    });
  });
});
