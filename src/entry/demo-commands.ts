import readline from 'node:readline';
import type { Simulator } from '../simulator/server';
import type { SimEvent } from '../simulator/types';

export const DEMO_COMMANDS_HELP = [
  'commands (type one and press Enter):',
  '  update            app.updated: one more licensed user',
  '  plan <name>       app.updated: the subscription changes to plan <name>',
  '  rotate            app.credentials_rotated (routine; "rotate compromised" for a compromised one)',
  '  logout            user.logout of the first licensed user',
  '  uninstall         app.uninstalled',
  '  reinstall         app.installed again into the same account (after uninstall)',
  '  help              this list',
].join('\n');

/**
 * `npm run demo`'s prompt: each command makes the simulated Talkdesk send the next event of
 * the installation's life, signed and delivered like the first, so a partner can watch the
 * whole lifecycle (hooks, workflow, approvals) without writing a driver.
 */
export function readDemoCommands(sim: Simulator, first: { id: string; accountName: string }): void {
  let current = first.id;
  const deliver = async (event: SimEvent) => {
    console.log(`delivering ${event.type} (event ${event.id}) for installation ${current}`);
    const status = await sim.deliver(event);
    const why = status === 0 ? (sim.deliveries.at(-1)?.error ?? 'connection error') : `HTTP ${status}`;
    console.log(status >= 200 && status < 300 ? `delivered: ${why}` : `delivery failed (${why})`);
  };
  const run = async (line: string) => {
    const [command, arg] = line.trim().split(/\s+/);
    switch (command) {
      case undefined:
      case '':
        return;
      case 'update':
        return deliver(sim.updateInstallation(current, { addUsers: 1 }));
      case 'plan':
        if (!arg) return console.log('plan needs a name, e.g. "plan pro"');
        return deliver(sim.updateInstallation(current, { subscription: { name: arg, licenses: 10 } }));
      case 'rotate':
        return deliver(sim.rotateCredentials(current, { compromised: arg === 'compromised' }));
      case 'logout': {
        const user = sim.accountUsers(current).find((u) => u.licensed);
        if (!user) return console.log('no licensed user to log out');
        return deliver(sim.userLogout(current, user.id));
      }
      case 'uninstall':
        return deliver(sim.uninstall(current));
      case 'reinstall': {
        const { installation, event } = sim.createInstallation({ accountName: first.accountName });
        current = installation.id;
        console.log(`new installation id: ${installation.id} (same account)`);
        return deliver(event);
      }
      case 'help':
        return console.log(DEMO_COMMANDS_HELP);
      default:
        console.log(`unknown command "${command}"; ${DEMO_COMMANDS_HELP}`);
    }
  };
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  // One at a time, in the order typed (or piped).
  let chain = Promise.resolve();
  rl.on('line', (line) => {
    chain = chain.then(() => run(line)).catch((err: unknown) => console.log(`failed: ${err instanceof Error ? err.message : String(err)}`));
  });
}
