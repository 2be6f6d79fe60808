import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { envSchema, loadEnv, PARTNER_HOOKS_TIMEOUT_MAX_MS } from '../../src/config/env';
import { generateKeySpec } from '../../src/crypto/secrets';
import { STOP_WAIT_MS } from '../../src/handover/dispatcher';
import { EMBEDDED_TEMPORAL_BLANKS } from '../../src/local/servers-only';
import { PROJECT_ROOT } from '../../src/local/tools';
import { launchSettingsFromEnv } from '../../src/sso/settings';
import { temporalSettings } from '../../src/temporal/connection';
import { WEB_TIMEOUTS_MS } from '../../src/web/server';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

/**
 * docker-compose.yml and the Dockerfile checked against the code, without a
 * Docker engine: every variable the app requires is set for web and worker, the
 * addresses point at the compose services, and no service sets a variable the
 * app does not read.
 */

type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };
type YamlMap = { [key: string]: Yaml };

/**
 * Environment variables the Temporal SDK's envconfig reads, taken from the
 * installed @temporalio/envconfig itself so that an SDK upgrade cannot leave
 * this list behind.
 */
function temporalEnvconfigVars(): string[] {
  const source = readFileSync(path.join(path.dirname(require.resolve('@temporalio/envconfig')), 'envconfig-toml.js'), 'utf8');
  const names = [...new Set([...source.matchAll(/envProvider\['(TEMPORAL_[A-Z_]*[A-Z])'\]/g)].map((m) => m[1] ?? ''))];
  assert.ok(
    names.includes('TEMPORAL_ADDRESS') && names.includes('TEMPORAL_API_KEY'),
    'envconfig variables not found in @temporalio/envconfig',
  );
  return names;
}

/** docker-compose.yml read strictly: one document, unique keys, any error or warning fails the test. */
function readCompose(source: string): YamlMap {
  const doc = parseDocument(source, { uniqueKeys: true, strict: true, prettyErrors: true });
  assert.deepEqual(
    [...doc.errors, ...doc.warnings].map((e) => e.message),
    [],
    'docker-compose.yml is valid YAML',
  );
  const value = doc.toJS({ maxAliasCount: 100 }) as Yaml;
  assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), 'the document must be a mapping');
  return value;
}

const asMap = (v: Yaml | undefined, what: string): YamlMap => {
  assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), `${what} must be a mapping`);
  return v as YamlMap;
};
const asList = (v: Yaml | undefined, what: string): Yaml[] => {
  assert.ok(Array.isArray(v), `${what} must be a list`);
  return v;
};

/** Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`. */
const INTERPOLATION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g;

/** The value compose would pass, with `given` standing in for the user's environment / .env. */
function interpolate(value: string, given: Record<string, string>): string {
  return value.replace(INTERPOLATION, (_all, name: string, op: string | undefined, arg: string | undefined) => {
    const v = given[name];
    if (op === ':-') return v === undefined || v === '' ? (arg ?? '') : v;
    if (op === '-') return v === undefined ? (arg ?? '') : v;
    if (op === ':?' || op === '?') {
      if (v === undefined || (op === ':?' && v === '')) throw new Error(`compose would stop: ${arg ?? name}`);
      return v;
    }
    return v ?? '';
  });
}

const REQUIRED_WITHOUT_DEFAULT = Object.entries(envSchema.shape)
  .filter(([, schema]) => !schema.safeParse(undefined).success)
  .map(([name]) => name);

describe('docker-compose.yml', () => {
  const file = path.join(PROJECT_ROOT, 'docker-compose.yml');
  let services: YamlMap = {};
  let serviceNames: string[] = [];
  before(() => {
    services = asMap(readCompose(readFileSync(file, 'utf8')).services, 'services');
    serviceNames = Object.keys(services);
  });
  const environment = (name: string): Record<string, string> => {
    const env = asMap(asMap(services[name], name).environment, `${name}.environment`);
    return Object.fromEntries(
      Object.entries(env).map(([k, v]) => {
        assert.ok(typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean', `${name}: ${k} must be a scalar`);
        return [k, String(v)];
      }),
    );
  };
  const userEnv = {
    TALKDESK_APP_ID: 'compose-test-app',
    TALKDESK_WEBHOOK_SECRET: 'compose-test-webhook-secret',
    SECRETS_KEY: generateKeySpec('k1'),
  };

  it('is read strictly: a duplicate key or a broken document fails', () => {
    assert.throws(() => readCompose('a: 1\na: 2\n'), /valid YAML/);
    assert.throws(() => readCompose('a: [1, 2\n'), /valid YAML/);
    assert.deepEqual(readCompose('a:\n  b: "x: y" # note\n  c: [1, "2, 3"]\nd:\n- e\n'), { a: { b: 'x: y', c: [1, '2, 3'] }, d: ['e'] });
  });

  it('has the temporal, mongodb, web and worker services', () => {
    for (const name of ['temporal', 'mongodb', 'web', 'worker']) assert.ok(serviceNames.includes(name), `service ${name} is missing`);
    assert.equal(asMap(services.mongodb, 'mongodb').image, 'mongo:7');
    assert.match(String(asMap(services.temporal, 'temporal').image), /^temporalio\/temporal:\d+\.\d+\.\d+$/);
  });

  it(`sets every variable the app requires without a default (${REQUIRED_WITHOUT_DEFAULT.join(', ')}) for web and worker`, () => {
    for (const name of ['TALKDESK_APP_ID', 'TALKDESK_WEBHOOK_SECRET', 'SECRETS_KEY']) {
      assert.ok(REQUIRED_WITHOUT_DEFAULT.includes(name), `${name} is expected to be required by envSchema`);
    }
    for (const service of ['web', 'worker']) {
      const env = environment(service);
      for (const name of REQUIRED_WITHOUT_DEFAULT) {
        assert.ok(env[name] !== undefined && env[name] !== '', `${service}: ${name} is not set`);
        // Taken from the user's environment / .env, and compose must stop when it is missing.
        if (name in userEnv)
          assert.match(env[name] ?? '', new RegExp(`^\\$\\{${name}:\\?[^}]+\\}$`), `${service}: ${name} must be "\${${name}:?message}"`);
      }
      assert.throws(() => interpolate(env.SECRETS_KEY ?? '', {}), /compose would stop/);
    }
  });

  it('gives web and worker the optional .env, so settings compose does not list (PARTNER_*, APP_HOME_URL...) reach them', () => {
    for (const service of ['web', 'worker']) {
      const files = asMap(services[service], service).env_file;
      assert.deepEqual(files, [{ path: '.env', required: false }], `${service}: env_file`);
    }
  });

  it('points TEMPORAL_ADDRESS and MONGODB_URI at the compose services', () => {
    for (const service of ['web', 'worker']) {
      const env = environment(service);
      assert.equal(env.TEMPORAL_ADDRESS, 'temporal:7233', `${service}: TEMPORAL_ADDRESS`);
      const mongo = new URL(env.MONGODB_URI ?? '');
      assert.equal(mongo.protocol, 'mongodb:');
      assert.equal(mongo.hostname, 'mongodb', `${service}: MONGODB_URI host`);
      assert.equal(mongo.port || '27017', '27017');
      for (const host of [String(env.TEMPORAL_ADDRESS).split(':')[0], mongo.hostname]) {
        assert.ok(serviceNames.includes(host ?? ''), `${host} is not a compose service`);
      }
    }
  });

  it('uses only variables the app or the Temporal SDK reads', () => {
    const known = new Set<string>([...Object.keys(envSchema.shape), ...temporalEnvconfigVars()]);
    for (const service of ['web', 'worker']) {
      for (const name of Object.keys(environment(service))) {
        assert.ok(known.has(name), `${service}: ${name} is neither in envSchema (src/config/env.ts) nor a Temporal envconfig variable`);
      }
    }
  });

  it('gives web and worker an environment the app accepts, the web one reachable from other containers', () => {
    const envOf = (service: string) =>
      loadEnv(Object.fromEntries(Object.entries(environment(service)).map(([k, v]) => [k, interpolate(v, userEnv)])));
    for (const service of ['web', 'worker']) {
      const env = envOf(service);
      assert.equal(env.TALKDESK_APP_ID, userEnv.TALKDESK_APP_ID);
      assert.equal(env.MONGODB_URI, 'mongodb://mongodb:27017');
    }
    const web = envOf('web');
    assert.equal(web.HOST, '0.0.0.0');
    // The web's own start-up checks (production: APP_BASE_URL, SUPPORT_CONTACT...), else it exits 2 and restarts forever.
    assert.doesNotThrow(() => launchSettingsFromEnv(web));
    const ports = asList(asMap(services.web, 'web').ports, 'web.ports').map(String);
    assert.ok(ports.includes(`${web.PORT}:${web.PORT}`), `web publishes PORT ${web.PORT}: ${ports.join(', ')}`);
    assert.ok(ports.includes(`127.0.0.1:${web.ADMIN_PORT}:${web.ADMIN_PORT}`), `web publishes ADMIN_PORT on loopback: ${ports.join(', ')}`);
    const probe = JSON.stringify(asMap(asMap(services.web, 'web').healthcheck, 'web.healthcheck').test);
    assert.ok(probe.includes(`127.0.0.1:${web.PORT}/healthz`), `the healthcheck probes PORT's /healthz: ${probe}`);
    // Temporal (no authentication in the dev server) and MongoDB: published to this host only.
    for (const service of ['temporal', 'mongodb']) {
      for (const p of asList(asMap(services[service], service).ports, `${service}.ports`))
        assert.ok(String(p).startsWith('127.0.0.1:'), `${service} publishes ${String(p)} on loopback only`);
    }
  });

  it('starts web and worker after healthy temporal and mongodb', () => {
    for (const dependency of ['temporal', 'mongodb', 'web']) {
      const test = asList(asMap(asMap(services[dependency], dependency).healthcheck, `${dependency}.healthcheck`).test, 'test');
      assert.equal(test[0], 'CMD', `${dependency}: exec-form healthcheck`);
    }
    for (const service of ['web', 'worker']) {
      const deps = asMap(asMap(services[service], service).depends_on, `${service}.depends_on`);
      for (const dependency of ['temporal', 'mongodb']) {
        assert.equal(asMap(deps[dependency], `${service}.depends_on.${dependency}`).condition, 'service_healthy');
      }
    }
  });

  it('lets web and worker stop within their grace period (docs/operations.md), at the settings the comments name', () => {
    const seconds = (service: string) => {
      const m = /^(\d+)s$/.exec(String(asMap(services[service], service).stop_grace_period));
      assert.ok(m, `${service}: stop_grace_period in seconds`);
      return Number(m[1]);
    };
    // The web: WEB_SHUTDOWN_DELAY_SECONDS up to 10, the close grace, then the longest of the side-by-side stops.
    const webMs = 10_000 + WEB_TIMEOUTS_MS.closeGrace + Math.max(STOP_WAIT_MS, PARTNER_HOOKS_TIMEOUT_MAX_MS + 10_000);
    assert.ok(seconds('web') * 1000 >= webMs + 5_000, `web: ${seconds('web')} s, needs ${webMs / 1000} s and a few more`);
    const workerGrace = envSchema.shape.WORKER_SHUTDOWN_GRACE_SECONDS.parse(undefined);
    assert.ok(
      seconds('worker') >= workerGrace + 5,
      `worker: ${seconds('worker')} s, needs WORKER_SHUTDOWN_GRACE_SECONDS (${workerGrace}) and a few more`,
    );
  });

  it('runs the production entry points of package.json', () => {
    const scripts = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
      .scripts;
    const command = (name: string) => asList(asMap(services[name], name).command, `${name}.command`).join(' ');
    assert.equal(command('web'), scripts['start:web']);
    assert.equal(command('worker'), scripts['start:worker']);
    for (const name of ['web', 'worker']) assert.equal(asMap(services[name], name).build, '.');
  });

  it('registers every search attribute of the workflow on the dev server', () => {
    const args = asList(asMap(services.temporal, 'temporal').command, 'temporal.command').map(String);
    assert.deepEqual(args.slice(0, 2), ['server', 'start-dev']);
    assert.equal(args[args.indexOf('--ip') + 1], '0.0.0.0');
    const registered = args.filter((_, i) => args[i - 1] === '--search-attribute');
    assert.deepEqual(registered.sort(), ALL_SEARCH_ATTRIBUTES.map((k) => `${k.name}=Keyword`).sort());
  });

  it('runs the Temporal CLI version the tests run (scripts/setup.sh TEMPORAL_CLI_VERSION)', () => {
    const setup = readFileSync(path.join(PROJECT_ROOT, 'scripts/setup.sh'), 'utf8');
    const version = /^TEMPORAL_CLI_VERSION=(\S+)/m.exec(setup)?.[1];
    assert.ok(version, 'scripts/setup.sh pins TEMPORAL_CLI_VERSION');
    assert.equal(asMap(services.temporal, 'temporal').image, `temporalio/temporal:${version}`);
  });

  it('web and worker read TEMPORAL_ADDRESS from the environment, as compose sets it', () => {
    // As the container has it: none of the machine's own Temporal settings (its default profile, a TLS variable).
    const names = ['TEMPORAL_ADDRESS', 'TEMPORAL_CONFIG_FILE', ...EMBEDDED_TEMPORAL_BLANKS];
    const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
    for (const n of names) delete process.env[n];
    process.env.TEMPORAL_CONFIG_FILE = path.join(PROJECT_ROOT, 'no-such-temporal-profile.toml');
    process.env.TEMPORAL_ADDRESS = environment('worker').TEMPORAL_ADDRESS;
    try {
      // What src/entry/web.ts and src/entry/worker.ts pass.
      const settings = temporalSettings({ namespace: 'default' });
      assert.equal(settings.connectionOptions.address, 'temporal:7233');
      assert.equal(settings.connectionOptions.tls, undefined);
    } finally {
      for (const [n, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[n];
        else process.env[n] = v;
      }
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages = instructions.filter((l) => /^FROM\s/i.test(l));
  const lastStage = instructions.slice(instructions.lastIndexOf(stages[stages.length - 1] ?? ''));

  it('builds in one stage and runs from another', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    assert.ok(
      instructions.some((l) => /^RUN\s.*npm ci\b/.test(l)),
      'installs the dependencies',
    );
    assert.ok(
      instructions.some((l) => /^RUN\s.*npm run build\b/.test(l)),
      'builds',
    );
    assert.ok(
      instructions.some((l) => /^COPY\s+--from=\S+\s+\S*dist\b/.test(l)),
      'copies the build output',
    );
  });

  it('runs the web process by default, in production mode, as a non-root user', () => {
    assert.ok(
      lastStage.some((l) => /^ENV\s.*\bNODE_ENV=production\b/.test(l)),
      'NODE_ENV=production',
    );
    const user = lastStage.filter((l) => /^USER\s/.test(l)).pop();
    assert.ok(user, 'USER is set');
    assert.doesNotMatch(user, /^USER\s+(root|0)(:|\s|$)/);
    assert.ok(lastStage.includes('CMD ["node", "dist/src/entry/web.js"]'), 'default CMD is the web entry point');
  });

  it('is built from sources the build context holds', () => {
    const ignored = readFileSync(path.join(PROJECT_ROOT, '.dockerignore'), 'utf8')
      .split(/\r?\n/)
      .map((l) => l.trim().replace(/\/$/, ''))
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const must of ['node_modules', 'dist', '.env', '.git', 'data', '.tools'])
      assert.ok(ignored.includes(must), `.dockerignore lists ${must}`);
    const copied = instructions.filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l)).flatMap((l) => l.split(/\s+/).slice(1, -1));
    for (const source of copied) assert.ok(!ignored.includes(source), `${source} is copied but excluded by .dockerignore`);
  });
});
