import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { envSchema } from '../../src/config/env';
import { PROJECT_ROOT } from '../../src/local/tools';
import { DEMO_DEFAULTS } from '../../src/local/demo-defaults';
import { COLLECTIONS } from '../../src/store/db';
import { CALLBACK_PATH } from '../../src/web/app';
import { INSTALLATION_PHASES, eventSignal, rejectUpdate, retryNowUpdate, stateQuery, workflowIdFor } from '../../workflows/definitions';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { allDocs, codeName, doc, docs, readme, section, source, tableRows } from '../support/docs';

/**
 * README.md checked against the code, so the documentation cannot rot: the
 * configuration table lists exactly the variables the code reads, with their
 * defaults, and the public names it documents are the ones the code uses.
 */

function temporalEnvconfigVars(): string[] {
  const sdk = readFileSync(path.join(path.dirname(require.resolve('@temporalio/envconfig')), 'envconfig-toml.js'), 'utf8');
  return [...new Set([...sdk.matchAll(/envProvider\['(TEMPORAL_[A-Z_]*[A-Z])'\]/g)].map((m) => m[1] ?? ''))];
}

/** TEMPORAL_PATH, TEMPORAL_TEST_SERVER_PATH, FERRETDB_PATH: from toolPath's parameter type. */
function toolPathVars(): string[] {
  const m = /export function toolPath\(name: ([^)]+)\)/.exec(source('src/local/tools.ts'));
  assert.ok(m?.[1], 'toolPath(name: ...) not found in src/local/tools.ts');
  return [...m[1].matchAll(/'([a-z-]+)'/g)].map((t) => `${(t[1] ?? '').toUpperCase().replace(/-/g, '_')}_PATH`);
}

/** The variables `npm run demo` reads. */
function demoVars(): string[] {
  const demo = source('src/entry/demo.ts');
  return [...new Set([...demo.matchAll(/process\.env\.([A-Z_]+)/g), ...demo.matchAll(/envPort\('([A-Z_]+)'/g)].map((m) => m[1] ?? ''))];
}

describe('README.md and docs/', () => {
  const configuration = doc('configuration.md');
  const rows = tableRows(configuration);
  const documented = new Map<string, string[]>();
  for (const row of rows) {
    const name = codeName(row[0]);
    if (name && /^[A-Z][A-Z0-9_]*$/.test(name) && !documented.has(name)) documented.set(name, row);
  }

  it('documents every variable of envSchema in the configuration table, with its default', () => {
    for (const [name, schema] of Object.entries(envSchema.shape)) {
      const row = documented.get(name);
      assert.ok(row, `${name} (src/config/env.ts) is missing from the README's configuration table`);
      const defaultCell = row[1] ?? '';
      const parsed = schema.safeParse(undefined);
      if (!parsed.success) {
        assert.match(defaultCell, /^required$/i, `${name} has no default: its default cell must say "required"`);
      } else if (parsed.data !== undefined) {
        const value = Array.isArray(parsed.data) ? parsed.data.join(',') : String(parsed.data);
        assert.ok(defaultCell.includes(`\`${value}\``), `${name}: README default "${defaultCell}" does not show \`${value}\``);
      }
    }
  });

  it('documents no variable the code does not read', () => {
    const known = new Set([...Object.keys(envSchema.shape), ...temporalEnvconfigVars(), ...toolPathVars(), ...demoVars()]);
    for (const name of documented.keys()) {
      assert.ok(known.has(name), `README documents ${name}, which neither the code nor the Temporal SDK reads`);
    }
  });

  it('documents the Temporal envconfig variables, the tool paths and the demo variables', () => {
    for (const name of [
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'TEMPORAL_API_KEY',
      'TEMPORAL_TLS',
      'TEMPORAL_PROFILE',
      'TEMPORAL_CONFIG_FILE',
    ]) {
      assert.ok(documented.has(name), `${name} is missing`);
    }
    for (const name of [...toolPathVars(), ...demoVars()]) assert.ok(documented.has(name), `${name} is missing`);
  });

  it("shows npm start's own defaults (applyLocalDefaults)", () => {
    const local = source('src/entry/local.ts');
    // A literal, or one of the demo's defaults (src/local/demo-defaults.ts).
    const defaults = [...local.matchAll(/process\.env\.([A-Z_]+) \?\?= (?:'([^']+)'|DEMO_DEFAULTS\.(\w+))/g)].map(
      ([, name, literal, demoKey]) => [name, literal ?? DEMO_DEFAULTS[demoKey as keyof typeof DEMO_DEFAULTS]] as const,
    );
    assert.ok(defaults.length >= 2, 'applyLocalDefaults not found in src/entry/local.ts');
    for (const [name, value] of defaults) {
      const row = rows.find((r) => codeName(r[0]) === name && (r[1] ?? '').includes(`\`${value}\``));
      assert.ok(row, `README does not show that npm start defaults ${name} to \`${value}\``);
    }
    assert.ok(configuration.includes('data/local-secrets-key'), 'the generated key file is named');
    const simulatorPort = /DEFAULT_ALLOWED_HOSTS\},127\.0\.0\.1:\$\{process\.env\.SIMULATOR_PORT \|\| '(\d+)'\}`/.exec(local)?.[1];
    assert.ok(
      simulatorPort &&
        configuration.includes(`\`127.0.0.1:${simulatorPort}\``) &&
        /allow-list[^\n]*SIMULATOR_PORT|SIMULATOR_PORT[^\n]*allow-list/.test(configuration),
      'the simulator host added to the allow-list, and that SIMULATOR_PORT moves it, are named',
    );
  });

  it('names the endpoints and the callback status codes the code answers with', () => {
    const app = source('src/web/app.ts') + source('src/web/admin.ts'); // public and admin listeners
    const paths = [CALLBACK_PATH, ...[...app.matchAll(/router\.get\('([^']+)'/g)].map((m) => m[1] ?? '')];
    assert.ok(paths.length >= 4);
    for (const p of paths)
      assert.ok(readme.includes(`\`${p === CALLBACK_PATH ? 'POST ' : 'GET '}${p}\``), `endpoint ${p} is not documented`);

    const statusRows = tableRows(section('Public interface'));
    const callback = source('src/web/callback.ts');
    const refusals = [...callback.matchAll(/refuse\(ctx, (\d{3}), '([a-z_]+)'/g)];
    assert.ok(refusals.length >= 7, 'refusals not found in src/web/callback.ts');
    for (const [, status, code] of refusals) {
      assert.ok(
        statusRows.some((r) => r[0] === status && (r[1] ?? '').includes(`\`${code}\``)),
        `status ${status} ${code} is not in the README's callback table`,
      );
    }
    for (const [, status, body] of callback.matchAll(/answer\(ctx, (\d{3}), \{ status: '([a-z_]+)'/g)) {
      assert.ok(
        statusRows.some((r) => r[0] === status && (r[1] ?? '').includes(`\`${body}\``)),
        `status ${status} ${body} is not documented`,
      );
    }
    assert.ok(readme.includes('x-hub-signature: sha256=<hex'), 'the signature header is documented');
  });

  it('names the workflow id, signal, query, updates, search attributes and phases', () => {
    const temporal = section('Public interface');
    assert.ok(temporal.includes(`\`${workflowIdFor('<installation_id>')}\``), 'workflow id');
    for (const def of [eventSignal, stateQuery, retryNowUpdate, rejectUpdate]) {
      assert.match(temporal, new RegExp(`\\*\\*(Signal|Query|Update)\\*\\* \`${def.name}\``), `${def.name} is not documented`);
    }
    for (const key of ALL_SEARCH_ATTRIBUTES) assert.ok(temporal.includes(`\`${key.name}\``), `search attribute ${key.name}`);
    for (const phase of INSTALLATION_PHASES) assert.ok(temporal.includes(`\`${phase}\``), `phase ${phase}`);
  });

  it('lists every MongoDB collection', () => {
    const names = tableRows(section('MongoDB collections')).map((r) => codeName(r[0]));
    assert.deepEqual([...names].sort(), Object.values(COLLECTIONS).sort());
  });

  it('describes only paths that exist in the layout', () => {
    const paths = tableRows(section('Layout', doc('development.md')))
      .map((r) => codeName(r[0]))
      .filter((p): p is string => p !== undefined);
    assert.ok(paths.length > 20);
    for (const p of paths) assert.ok(existsSync(path.join(PROJECT_ROOT, p)), `README's layout names ${p}, which does not exist`);
  });

  it('documents npm scripts that exist', () => {
    const scripts = Object.keys((JSON.parse(source('package.json')) as { scripts: Record<string, string> }).scripts);
    for (const m of allDocs.matchAll(/`npm (?:run )?([a-z:]+)`/g)) {
      const name = m[1] ?? '';
      if (['install', 'ci', 'audit'].includes(name)) continue; // npm's own commands
      assert.ok(scripts.includes(name), `README names "npm ${name}", which package.json does not define`);
    }
  });

  it('keeps the README short and links every docs page, and every link resolves', () => {
    const lines = readme.split(/\r?\n/).length;
    assert.ok(lines <= 300, `README.md has ${lines} lines; move detail into docs/`);
    assert.ok(docs.size >= 4, `docs/ has ${docs.size} pages`);
    for (const name of docs.keys()) assert.ok(readme.includes(`(docs/${name})`), `README does not link docs/${name}`);
    const links = [
      ...[...readme.matchAll(/\]\((docs\/[^)#]+)(?:#[^)]*)?\)/g)].map((m) => m[1] ?? ''),
      ...[...docs.values()].flatMap((text) =>
        [...text.matchAll(/\]\(([a-z0-9_-]+\.md)(?:#[^)]*)?\)/g)].map((m) => path.join('docs', m[1] ?? '')),
      ),
    ];
    for (const link of links) assert.ok(existsSync(path.join(PROJECT_ROOT, link)), `link to ${link} does not resolve`);
  });
});
