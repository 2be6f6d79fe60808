import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { Keyring } from '../crypto/secrets';
import type { Logger } from '../logging/logger';
import type { Store } from '../store';
import type { InstallationOptions } from '../../workflows/options';
import { createApp, CALLBACK_PATH } from './app';
import { createDispatch } from './dispatch';
import { InboxDispatcher } from './dispatcher';
import { createWebMetrics } from './metrics';
import { parseSize } from './raw-body';

export interface WebServerOptions {
  host: string;
  port: number;
  appId: string;
  webhookSecrets: string[];
  skipSignatureCheck?: boolean;
  bodyLimit: string;
  bodyTimeoutMs?: number;
  dispatchIntervalMs: number;
  dispatchTimeoutMs?: number;
  taskQueue: string;
  workflowOptions?: Partial<InstallationOptions>;
  keyring: Keyring;
  store: Store;
  temporal: Client;
  logger: Logger;
}

export interface RunningWebServer {
  url: string;
  callbackUrl: string;
  server: Server;
  dispatcher: InboxDispatcher;
  close(): Promise<void>;
}

/** Starts the Koa callback server and the inbox dispatcher beside it. */
export async function startWebServer(o: WebServerOptions): Promise<RunningWebServer> {
  const metrics = createWebMetrics();
  const dispatch = createDispatch(o.temporal, o.taskQueue, {
    timeoutMs: o.dispatchTimeoutMs ?? 3_000,
    workflowOptions: o.workflowOptions,
  });
  const app = createApp({
    appId: o.appId,
    webhookSecrets: o.webhookSecrets,
    skipSignatureCheck: o.skipSignatureCheck ?? false,
    bodyLimitBytes: parseSize(o.bodyLimit),
    bodyTimeoutMs: o.bodyTimeoutMs ?? 10_000,
    keyring: o.keyring,
    inbox: o.store.inbox,
    dispatch,
    logger: o.logger,
    metrics,
    readiness: async () => {
      const [mongodb, temporal] = await Promise.all([
        o.store.ping().then(
          () => true,
          () => false,
        ),
        o.temporal.connection
          .withDeadline(Date.now() + 2_000, () => o.temporal.workflowService.getSystemInfo({}))
          .then(
            () => true,
            () => false,
          ),
      ]);
      return { mongodb, temporal };
    },
  });
  const dispatcher = new InboxDispatcher(o.store.inbox, dispatch, o.logger, { intervalMs: o.dispatchIntervalMs });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(o.port, o.host, () => resolve(s));
    s.once('error', reject);
  });
  // A slow or endless client cannot hold a connection for long.
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  dispatcher.start();
  const { port } = server.address() as AddressInfo;
  const url = `http://${o.host}:${port}`;
  return {
    url,
    callbackUrl: `${url}${CALLBACK_PATH}`,
    server,
    dispatcher,
    async close() {
      await dispatcher.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
