/** What the soak does with one installation, and what it expects at the end. */
export const PLANS = [
  'install, update, uninstall',
  'install, update',
  'install, uninstall',
  'install, then update and uninstall at once',
] as const;
export type PlanKind = (typeof PLANS)[number];

export interface SoakEvent {
  id: string;
  type: 'app.installed' | 'app.updated' | 'app.uninstalled';
  createdAt: string;
  accepted: boolean;
}

export interface SoakInstallation {
  index: number;
  plan: PlanKind;
  installationId: string;
  accountId: string;
  events: SoakEvent[];
  expectedPhase: 'active' | 'uninstalled';
  /** Every step of the plan ran (each event accepted and its phase reached). */
  finished: boolean;
  /** Why the driver stopped early. */
  stoppedAt?: string;
  /** created_at of the last event, so the next one is strictly later (Talkdesk times have whole seconds). */
  lastAt: number;
}

export function planOf(index: number): PlanKind {
  return PLANS[index % PLANS.length]!;
}

export function eventsIn(plan: PlanKind): number {
  return plan === 'install, update, uninstall' || plan === 'install, then update and uninstall at once' ? 3 : 2;
}

export function expectedPhaseOf(plan: PlanKind): 'active' | 'uninstalled' {
  return plan === 'install, update' ? 'active' : 'uninstalled';
}

/** A created_at for the installation's next event: now, but at least one whole second after its last. */
export function nextCreatedAt(inst: { lastAt: number }): Date {
  const now = Math.ceil(Date.now() / 1000) * 1000;
  const at = Math.max(now, inst.lastAt + 1000);
  inst.lastAt = at;
  return new Date(at);
}
