import { DEFAULT_PORT } from '../config/env';
import { CALLBACK_PATH } from '../web/app';

/** What `npm run demo` assumes when its variables are not set; `npm start` uses the same app id and secret. */
export const DEMO_DEFAULTS = {
  appId: 'local-dev-app',
  webhookSecret: 'local-dev-webhook-secret-change-me',
  appBaseUrl: `http://127.0.0.1:${DEFAULT_PORT}`,
  callbackUrl: `http://127.0.0.1:${DEFAULT_PORT}${CALLBACK_PATH}`,
} as const;
