import { DEFAULT_PORT } from '../config/env';
import { CALLBACK_PATH } from '../web/app';

/** What `npm run demo` assumes when its variables are not set; `npm start` uses the same app id and secret. */
export const DEMO_DEFAULTS = {
  appId: 'local-dev-app',
  webhookSecret: 'local-dev-webhook-secret-change-me',
  appBaseUrl: `http://127.0.0.1:${DEFAULT_PORT}`,
  callbackUrl: `http://127.0.0.1:${DEFAULT_PORT}${CALLBACK_PATH}`,
} as const;

/**
 * `npm run demo` as an `npm start` instance needs it: the demo's defaults assume port 3000 and npm start's
 * defaults, so anything else is spelled out (the webhook secret only named, never printed).
 */
export function demoCommand(callbackUrl: string, appBaseUrl: string, env: NodeJS.ProcessEnv): string {
  const vars: string[] = [];
  if (callbackUrl !== DEMO_DEFAULTS.callbackUrl) vars.push(`CALLBACK_URL=${callbackUrl}`);
  if (appBaseUrl.replace(/\/+$/, '') !== DEMO_DEFAULTS.appBaseUrl) vars.push(`APP_BASE_URL=${appBaseUrl}`);
  if (env.SIMULATOR_PORT) vars.push(`SIMULATOR_PORT=${env.SIMULATOR_PORT}`);
  // The demo prints the Temporal UI's address from it.
  if (env.LOCAL_TEMPORAL_UI_PORT) vars.push(`LOCAL_TEMPORAL_UI_PORT=${env.LOCAL_TEMPORAL_UI_PORT}`);
  if (env.TALKDESK_APP_ID !== DEMO_DEFAULTS.appId) vars.push(`TALKDESK_APP_ID=${env.TALKDESK_APP_ID ?? ''}`);
  const secret = env.TALKDESK_WEBHOOK_SECRET !== DEMO_DEFAULTS.webhookSecret ? '  (with this TALKDESK_WEBHOOK_SECRET set)' : '';
  return `${[...vars, 'npm run demo'].join(' ')}${secret}`;
}
