import { ROUTES, type CallRecord, type ChaosOptions, type Fault, type RouteName } from './types';

/** A fault resolved for one request. */
export type AppliedFault =
  | {
      kind: 'status';
      status: number;
      retryAfterSeconds?: number;
      body?: Record<string, unknown>;
      headers?: Record<string, string>;
      label: NonNullable<CallRecord['fault']>;
    }
  | { kind: 'delay'; ms: number; body?: Record<string, unknown>; label: NonNullable<CallRecord['fault']> }
  | { kind: 'drop'; label: 'drop' };

interface Queued {
  /** Requests let through before the fault applies. */
  skip: number;
  remaining: number;
  fault: Fault;
}

/** Small deterministic PRNG so a soak run can be replayed from its seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const probability = (p: number | undefined, name: string): number => {
  const v = p ?? 0;
  if (!(v >= 0 && v <= 1)) throw new Error(`${name} must be between 0 and 1`);
  return v;
};

function checkFault(fault: Fault): void {
  if ('drop' in fault) {
    if (fault.drop !== true) throw new Error('drop fault must be { drop: true }');
  } else if ('delayMs' in fault) {
    if (!(fault.delayMs >= 0)) throw new Error('delayMs must be >= 0');
  } else if (!Number.isInteger(fault.status) || fault.status < 100 || fault.status > 599) {
    throw new Error('status must be an HTTP status code');
  }
}

/** Scripted (failNext) faults first, then chaos draws. */
export class FaultInjector {
  private readonly queues = new Map<RouteName, Queued[]>();
  private chaos: (Required<Omit<ChaosOptions, 'seed' | 'routes'>> & { routes: RouteName[]; random: () => number }) | null = null;

  /** `after`: that many requests on the route pass untouched first (e.g. fail the 150th page of a reading). */
  failNext(route: RouteName, count: number, fault: Fault, opts: { after?: number } = {}): void {
    if (!(ROUTES as readonly string[]).includes(route)) throw new Error(`unknown route ${route}`);
    if (!Number.isInteger(count) || count < 1) throw new Error('count must be a positive integer');
    const skip = opts.after ?? 0;
    if (!Number.isInteger(skip) || skip < 0) throw new Error('after must be a non-negative integer');
    checkFault(fault);
    const queue = this.queues.get(route) ?? [];
    queue.push({ skip, remaining: count, fault });
    this.queues.set(route, queue);
  }

  setChaos(opts: ChaosOptions | null): void {
    if (!opts) {
      this.chaos = null;
      return;
    }
    const p500 = probability(opts.p500, 'p500');
    const p429 = probability(opts.p429, 'p429');
    const pHang = probability(opts.pHang, 'pHang');
    if (p500 + p429 + pHang > 1) throw new Error('p500 + p429 + pHang must not exceed 1');
    this.chaos = {
      p500,
      p429,
      pHang,
      retryAfterSeconds: opts.retryAfterSeconds ?? 0,
      hangMs: opts.hangMs ?? 0,
      routes: opts.routes ?? [...ROUTES],
      random: opts.seed === undefined ? Math.random : mulberry32(opts.seed),
    };
  }

  clear(): void {
    this.queues.clear();
    this.chaos = null;
  }

  /** The fault to apply to the next request on `route`, if any (consumes a scripted one). */
  take(route: RouteName): AppliedFault | undefined {
    const queue = this.queues.get(route);
    const head = queue?.[0];
    if (queue && head) {
      if (head.skip > 0) {
        head.skip -= 1;
        return undefined;
      }
      head.remaining -= 1;
      if (head.remaining <= 0) queue.shift();
      const f = head.fault;
      if ('drop' in f) return { kind: 'drop', label: 'drop' };
      if ('delayMs' in f) return { kind: 'delay', ms: f.delayMs, label: 'delay', ...(f.body ? { body: f.body } : {}) };
      return { kind: 'status', label: 'status', ...f };
    }
    const c = this.chaos;
    if (!c || !c.routes.includes(route)) return undefined;
    const r = c.random();
    if (r < c.p500) return { kind: 'status', status: 500, label: 'chaos500' };
    if (r < c.p500 + c.p429) {
      return c.retryAfterSeconds > 0
        ? { kind: 'status', status: 429, retryAfterSeconds: c.retryAfterSeconds, label: 'chaos429' }
        : { kind: 'status', status: 429, label: 'chaos429' };
    }
    if (r < c.p500 + c.p429 + c.pHang) return { kind: 'delay', ms: c.hangMs, label: 'chaosHang' };
    return undefined;
  }
}
