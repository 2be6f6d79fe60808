import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { generateKeySpec } from '../crypto/secrets';
import { DEFAULT_ALLOWED_HOSTS, loadEnvSubset } from '../config/env';
import { ConfigError } from '../errors';
import { DEMO_DEFAULTS, demoCommand } from '../local/demo-defaults';
import { portInUse, retryBindClash } from '../local/process';
import { embeddedTemporalBlanks, serversBanner, writeLocalTemporalProfile, writeServersEnv } from '../local/servers-only';
import { urlTarget } from '../logging/redact';
import { launchSettingsFromEnv } from '../sso/settings';
import { generateSigningKeySpec } from '../sso/signing-keys';
import { startFerretDB, type LocalMongo } from '../local/ferretdb';
import { startTemporalDevServer, type LocalTemporal } from '../local/temporal-dev';
import { PROJECT_ROOT } from '../local/tools';
import { embeddedNamespace, embeddedTemporalSettings, temporalSettings } from '../temporal/connection';
import { temporalConnectFailure } from '../temporal/connect-errors';
import { ensureSearchAttributes } from '../temporal/search-attributes';
import { webServerOptionsFromEnv } from '../web/from-env';
import { startWebServer } from '../web/server';
import { startServiceWorker } from '../worker/service-worker';
import { bootstrap, exitOnFailure, onShutdown, openStore, talkdeskClient } from './bootstrap';

/**
 * `npm start`: the whole system on embedded defaults. Starts the Temporal dev
 * server (with its UI) and FerretDB unless TEMPORAL_ADDRESS / MONGODB_URI point
 * elsewhere, then the worker and the web server in this process; with
 * `--servers-only` (`npm run start:servers`), the servers alone.
 */
async function main(): Promise<void> {
  // Checked before anything is written there: an empty value would put the key files in the project root.
  const dataDir = path.resolve(PROJECT_ROOT, loadEnvSubset(['LOCAL_DATA_DIR']).LOCAL_DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  applyLocalDefaults(dataDir);
  // On its own dev server (no TEMPORAL_ADDRESS) it reads none of the shell's Temporal TLS settings (a cloud account's,
  // docs/configuration.md), so they are not validated either: one the SDK cannot honour must not stop `npm start`.
  if (!process.env.TEMPORAL_ADDRESS)
    for (const name of ['TEMPORAL_TLS', 'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION'])
      if (process.env[name] !== undefined) process.env[name] = '';
  const { env, logger, keyring } = bootstrap('local');
  // The launch settings (SSO_SIGNING_KEYS and the rest) before any server starts, as the web entry does.
  launchSettingsFromEnv(env);

  let temporalServer: LocalTemporal | undefined;
  let mongoServer: LocalMongo | undefined;
  // If start-up fails half way, the servers already started must not outlive this process.
  const stopServers = async () => {
    await mongoServer?.stop();
    await temporalServer?.stop();
  };
  process.once('exit', () => {
    mongoServer?.process.child.kill('SIGKILL');
    temporalServer?.process.child.kill('SIGKILL');
  });
  // A signal while starting (before the orderly stop is set up): exit, so the hook above kills what started
  // (Node's default for the signal skips 'exit' hooks, and the servers would outlive this process).
  const whileStarting = (signal: NodeJS.Signals) => process.exit(signal === 'SIGINT' ? 130 : 143);
  process.on('SIGINT', whileStarting);
  process.on('SIGTERM', whileStarting);
  try {
    await run();
  } catch (err) {
    await stopServers();
    throw err;
  } finally {
    process.off('SIGINT', whileStarting);
    process.off('SIGTERM', whileStarting);
  }

  async function run(): Promise<void> {
    // Before starting anything: a server already there would be used in place of ours, silently.
    if (!env.TEMPORAL_ADDRESS) {
      await mustBeFree(env.LOCAL_TEMPORAL_PORT, 'LOCAL_TEMPORAL_PORT', 'or set TEMPORAL_ADDRESS to use the server there');
      await mustBeFree(env.LOCAL_TEMPORAL_UI_PORT, 'LOCAL_TEMPORAL_UI_PORT');
    }
    if (!env.MONGODB_URI) await mustBeFree(env.LOCAL_MONGODB_PORT, 'LOCAL_MONGODB_PORT', 'or set MONGODB_URI to use the server there');
    if (!env.TEMPORAL_ADDRESS) {
      logger.info('starting the local Temporal dev server');
      // Its ports were free just above: a clash now is on a port it picks itself (its HTTP API), or a race.
      temporalServer = await retryBindClash(() =>
        startTemporalDevServer({
          port: env.LOCAL_TEMPORAL_PORT,
          uiPort: env.LOCAL_TEMPORAL_UI_PORT,
          dataDir: path.join(dataDir, 'temporal'),
          namespace: embeddedNamespace(),
        }),
      );
    }
    if (!env.MONGODB_URI) {
      logger.info('starting the local MongoDB-compatible server (FerretDB on SQLite)');
      mongoServer = await startFerretDB({ port: env.LOCAL_MONGODB_PORT, dataDir: path.join(dataDir, 'ferretdb') });
      env.MONGODB_URI = mongoServer.uri;
    }
    const address = env.TEMPORAL_ADDRESS ?? temporalServer?.address;
    // Our own server takes no profile, key or TLS; a cluster named by TEMPORAL_ADDRESS takes the SDK's settings.
    const settings = temporalServer ? embeddedTemporalSettings(temporalServer.address) : temporalSettings({ address });
    if (!temporalServer) {
      // An existing cluster: register the search attributes if they are missing (idempotent).
      const admin = await Connection.connect(settings.connectionOptions).catch((err: unknown) => {
        throw temporalConnectFailure(address, settings.namespace, err);
      });
      await ensureSearchAttributes(admin, settings.namespace).catch((err: unknown) =>
        logger.warn({ err }, 'could not register search attributes; run npm run setup:temporal or register them in your cloud console'),
      );
      await admin.close();
    }

    if (process.argv.includes('--servers-only')) {
      const envFile = writeServersEnv(
        dataDir,
        {
          ...process.env,
          TEMPORAL_ADDRESS: address,
          // The namespace the dev server was started with, or the cluster's.
          TEMPORAL_NAMESPACE: settings.namespace,
          MONGODB_URI: env.MONGODB_URI,
          // Our own server: a profile of its own, so that the machine's (a cloud account's key and TLS) is not read.
          ...(temporalServer
            ? { TEMPORAL_CONFIG_FILE: writeLocalTemporalProfile(dataDir, temporalServer.address, settings.namespace) }
            : {}),
        },
        temporalServer ? embeddedTemporalBlanks() : [],
      );
      const ui = temporalServer?.uiUrl ?? "(your Temporal cluster's UI)";
      console.log(serversBanner({ ui, address: address ?? '', mongo: urlTarget(env.MONGODB_URI ?? ''), envFile }));
      onShutdown(logger, stopServers);
      return;
    }
    const store = await openStore(env, keyring, logger);
    const service = await startServiceWorker({ env, logger, store, talkdesk: talkdeskClient(env), address, embedded: !!temporalServer });
    // The SDK also drains the worker on SIGQUIT and SIGUSR2 (a supervisor's restart signal): the web server, left
    // running, would take events no worker runs. Only Ctrl-C and SIGTERM stop in order (onShutdown, below).
    let stopping = false;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (stopping = true));
    service.run().then(
      () => {
        if (stopping) return;
        logger.error('the worker stopped (a SIGQUIT or SIGUSR2 drains it): exiting, servers stopped; npm start again');
        process.exit(1);
      },
      (err: unknown) => {
        logger.error({ err }, 'the worker stopped with an error');
        process.exit(1);
      },
    );

    const connection = await Connection.connect(settings.connectionOptions).catch((err: unknown) => {
      throw temporalConnectFailure(address, settings.namespace, err);
    });
    const web = await startWebServer(
      webServerOptionsFromEnv(env, { keyring, store, temporal: new Client({ connection, namespace: settings.namespace }), logger }),
    );

    const ui = temporalServer?.uiUrl ?? "(your Temporal cluster's UI)";
    console.log(
      [
        '',
        'appconnect-lifecycle is running',
        `  Temporal UI:        ${ui}`,
        `  Temporal frontend:  ${address ?? 'from TEMPORAL_* settings'} (namespace ${settings.namespace})`,
        `  MongoDB:            ${urlTarget(env.MONGODB_URI ?? '')}`,
        `  Callback endpoint:  POST ${web.callbackUrl}`,
        `  Health:             ${web.url}/healthz`,
        `  Ready and metrics:  ${web.adminUrl}/readyz  ${web.adminUrl}/metrics`,
        `  Launch (SSO):       ${env.APP_BASE_URL ?? web.url}/launch?talkdesk_installation_id=<id>  (npm run demo prints one)`,
        '',
        `  Send a demo install from another terminal:  ${demoCommand(web.callbackUrl, env.APP_BASE_URL ?? web.url, process.env)}`,
        '  Stop everything:                            Ctrl-C',
        '',
      ].join('\n'),
    );

    onShutdown(logger, async () => {
      await web.close();
      await service.close();
      await connection.close();
      await store.db.close();
      await stopServers();
    });
  }
}

/** The embedded servers listen on loopback. */
async function mustBeFree(port: number, variable: string, orElse = ''): Promise<void> {
  if (await portInUse(port, '127.0.0.1')) {
    throw new ConfigError(
      `${variable}=${port}: 127.0.0.1:${port} is already in use by another process. Set ${variable} to a free port${orElse ? ` ${orElse}` : ''}.`,
    );
  }
}

/** Development defaults, so `npm start` needs no configuration; real settings win. */
function applyLocalDefaults(dataDir: string): void {
  const keyFile = path.join(dataDir, 'local-secrets-key');
  if (!process.env.SECRETS_KEY) {
    if (!existsSync(keyFile)) writeFileSync(keyFile, generateKeySpec('local1'), { mode: 0o600 });
    process.env.SECRETS_KEY = readFileSync(keyFile, 'utf8').trim();
  }
  // The values `npm run demo` assumes.
  process.env.TALKDESK_APP_ID ??= DEMO_DEFAULTS.appId;
  process.env.TALKDESK_WEBHOOK_SECRET ??= DEMO_DEFAULTS.webhookSecret;
  // The demo's simulator listens on loopback (SIMULATOR_PORT, as `npm run demo` reads it); production allow-lists name Talkdesk only.
  process.env.TALKDESK_ALLOWED_HOSTS ??= `${DEFAULT_ALLOWED_HOSTS},127.0.0.1:${process.env.SIMULATOR_PORT || '4010'}`;
  process.env.LOCAL_DATA_DIR ??= dataDir;
  // Launch: a dev hand-off signing key kept in the data folder, the local web address, a placeholder contact.
  const signingFile = path.join(dataDir, 'local-sso-signing-key');
  if (!process.env.SSO_SIGNING_KEYS) {
    if (!existsSync(signingFile)) writeFileSync(signingFile, generateSigningKeySpec('local1'), { mode: 0o600 });
    process.env.SSO_SIGNING_KEYS = readFileSync(signingFile, 'utf8').trim();
  }
  process.env.SUPPORT_CONTACT ??= 'support@example.com (npm start placeholder)';
}

main().catch(exitOnFailure('npm start'));
