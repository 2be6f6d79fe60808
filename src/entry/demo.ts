/**
 * `npm run demo`: plays Talkdesk against a locally running service. Starts the simulator,
 * creates one installation, delivers its signed app.installed event to the callback URL,
 * then serves the API until the approval arrives and until Ctrl-C.
 * Never prints credentials: the event is the only place they appear.
 */
import { DEFAULT_LOCAL_TEMPORAL_UI_PORT } from '../config/env';
import { startSimulator, type CallRecord } from '../simulator';
import { workflowIdFor } from '../../workflows/definitions';
import { CALLBACK_PATH } from '../web/app';
import { ConfigError } from '../errors';
import { DEMO_DEFAULTS } from '../local/demo-defaults';
import { exitOnFailure } from './bootstrap';
import { DEMO_COMMANDS_HELP, readDemoCommands } from './demo-commands';

function envPort(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  // As in src/config/env.ts: an empty number is refused, not read as its default.
  if (raw.trim() === '') throw new ConfigError(`${name} is set but empty: remove it to get ${fallback}, or set a port number`);
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || n > 65535) throw new ConfigError(`${name} must be a port number, got "${raw}"`);
  return n;
}

function envCallbackUrl(): string {
  const raw = process.env.CALLBACK_URL || DEMO_DEFAULTS.callbackUrl;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol)) {
    throw new ConfigError(`CALLBACK_URL must be the service's http(s) callback URL, such as http://127.0.0.1:3000${CALLBACK_PATH}`);
  }
  return raw;
}

async function main(): Promise<void> {
  const port = envPort('SIMULATOR_PORT', 4010);
  const callbackUrl = envCallbackUrl();
  // The first of a rotation list signs, as the service reads the list (each entry trimmed).
  const webhookSecret = (process.env.TALKDESK_WEBHOOK_SECRET || DEMO_DEFAULTS.webhookSecret).split(',')[0]!.trim();
  const appId = (process.env.TALKDESK_APP_ID || DEMO_DEFAULTS.appId).trim(); // trimmed, as the service reads it
  const appBaseUrl = (process.env.APP_BASE_URL || DEMO_DEFAULTS.appBaseUrl).replace(/\/+$/, '');

  const sim = await startSimulator({ appId, host: '127.0.0.1', port, webhookSecret, callbackUrl });
  console.log(`Talkdesk simulator listening on ${sim.url} (app ${appId})`);

  const { installation, event } = sim.createInstallation({ accountName: 'demo' });
  console.log(`installation id: ${installation.id}`);
  console.log(`account:         ${installation.accountName} (${installation.accountId})`);
  console.log(`workflow id:     ${workflowIdFor(installation.id)}`);
  const uiPort = process.env.LOCAL_TEMPORAL_UI_PORT || String(DEFAULT_LOCAL_TEMPORAL_UI_PORT);
  console.log(`Temporal UI:     http://localhost:${uiPort} (search for the workflow id above)`);

  let approved = false;
  sim.onCall((call: CallRecord) => {
    const fault = call.fault ? ` [fault: ${call.fault}]` : '';
    console.log(`<- ${call.method} ${call.path} -> ${call.status}${fault}`);
    if (!approved && call.route === 'installationState' && call.installationId === installation.id && call.status === 200) {
      approved = true;
      console.log(
        `approval call received: ${JSON.stringify(call.body)}; installation is now "${sim.getInstallation(installation.id)?.state}"`,
      );
      // The simulated Talkdesk signs in the installing administrator (a licensed user) when the app is opened.
      const user = sim.accountUsers(installation.id).find((u) => u.licensed);
      if (user) sim.signInAs(installation.id, user.id);
      const launch = new URL(`${appBaseUrl}/launch`);
      launch.searchParams.set('talkdesk_installation_id', installation.id);
      if (user) launch.searchParams.set('talkdesk_user_id', user.id);
      console.log(`open the app as ${user?.name ?? 'a simulated user'} (${user?.email ?? ''}): ${launch.href}`);
      console.log('still serving the API and the sign-in; press Ctrl-C to stop.');
      console.log(DEMO_COMMANDS_HELP);
      readDemoCommands(sim, { id: installation.id, accountName: installation.accountName });
    }
  });

  const shutdown = () => {
    console.log('stopping simulator');
    sim.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);

  console.log(`delivering app.installed (event ${event.id}) to ${callbackUrl}`);
  const status = await sim.deliver(event);
  if (status >= 200 && status < 300) {
    console.log(`delivered: HTTP ${status}; waiting for the approval call (POST .../installations/${installation.id}/state)`);
  } else {
    const why = status === 0 ? (sim.deliveries.at(-1)?.error ?? 'connection error') : `HTTP ${status}`;
    console.log(`delivery failed (${why}); like Talkdesk, retrying after 5 and again after 10 minutes`);
  }
}

main().catch(exitOnFailure('npm run demo'));
