import { Client, Connection } from '@temporalio/client';
import { ConfigError } from '../errors';
import { launchSettingsFromEnv, launchWarnings } from '../sso/settings';
import { credentialsRefused, temporalConnectFailure } from '../temporal/connect-errors';
import { temporalSettings } from '../temporal/connection';
import { webServerOptionsFromEnv } from '../web/from-env';
import { startWebServer } from '../web/server';
import { bootstrap, exitOnFailure, onShutdown, openStore } from './bootstrap';

/** Production entry point of the web process (`npm run start:web`). */
async function main(): Promise<void> {
  const { env, logger, keyring } = bootstrap('web');
  try {
    // Before connecting anywhere: APP_BASE_URL and SUPPORT_CONTACT are required in production.
    const partnerHooks = env.PARTNER_PROVISIONER === 'http';
    for (const warning of launchWarnings(launchSettingsFromEnv(env), env.NODE_ENV === 'production', { partnerHooks })) logger.warn(warning);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(2);
  }
  const store = await openStore(env, keyring, logger);
  // Lazy: the callback must store events (and answer 202) even while Temporal is down.
  const { connectionOptions, namespace } = temporalSettings();
  const connection = Connection.lazy(connectionOptions);
  const temporal = new Client({ connection, namespace });
  const web = await startWebServer(webServerOptionsFromEnv(env, { keyring, store, temporal, logger }));
  // Not a reason to stop (events are stored and handed over once it answers), but worth saying at once.
  connection
    .withDeadline(Date.now() + 5_000, () => temporal.workflowService.getSystemInfo({}))
    .catch((err: unknown) =>
      credentialsRefused(err)
        ? logger.error(
            { temporalAddress: connectionOptions.address ?? 'localhost:7233', namespace },
            `${temporalConnectFailure(connectionOptions.address, namespace, err).message} Events are stored but not handed over until then; /readyz shows temporal:false`,
          )
        : logger.warn(
            { temporalAddress: connectionOptions.address ?? 'localhost:7233' },
            'Temporal does not answer yet (TEMPORAL_ADDRESS): events are stored and handed over once it does; /readyz shows temporal:false until then',
          ),
    );
  logger.info(
    {
      callbackUrl: web.callbackUrl,
      adminUrl: web.adminUrl,
      signatureSchemes: env.CALLBACK_SIGNATURE_SCHEMES,
      ecdsaKeyIds: [...(env.TALKDESK_ECDSA_PUBLIC_KEYS?.keys() ?? [])],
      rateLimitPerMinute: env.CALLBACK_RATE_LIMIT_PER_MINUTE,
      failedAuthPerMinute: env.CALLBACK_FAILED_AUTH_PER_MINUTE,
      trustProxy:
        env.TRUST_PROXY?.kind === 'hops' ? env.TRUST_PROXY.hops : env.TRUST_PROXY?.kind === 'cidrs' ? env.TRUST_PROXY.text : 'none',
    },
    'web server listening',
  );
  onShutdown(logger, async () => {
    await web.close();
    await connection.close();
    await store.db.close();
  });
}

main().catch(exitOnFailure('web server'));
