import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { DeliveryRecord, SimEvent } from './types';

export interface DeliverOptions {
  callbackUrl?: string;
  /** Replace the x-hub-signature value (tamper tests); null sends no signature header. */
  signature?: string | null;
}

/** `sha256=<hex HMAC-SHA256 of the raw body>`, the x-hub-signature value. */
export function signBody(secret: string, raw: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
}

interface AttemptResult {
  status: number;
  error?: string;
}

function post(url: string, raw: string, headers: Record<string, string>, timeoutMs: number): Promise<AttemptResult> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      resolve({ status: 0, error: `invalid callback URL ${url}` });
      return;
    }
    const lib = target.protocol === 'https:' ? https : http;
    const req = lib.request(
      target,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(raw)) }, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', (e) => resolve({ status: res.statusCode ?? 0, error: e.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    req.end(raw);
  });
}

/**
 * Posts events the way Talkdesk does: signed raw JSON, first attempt awaited, then up
 * to two retries in the background after retryDelaysMs[0] and retryDelaysMs[1].
 */
export class Deliverer {
  readonly records: DeliveryRecord[] = [];
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: (slept: boolean) => void }>();
  private readonly pending = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly secret: string,
    private readonly retryDelaysMs: [number, number],
    private readonly timeoutMs: number,
    private readonly defaultCallbackUrl: string | undefined,
  ) {}

  async deliver(event: SimEvent | string, opts: DeliverOptions = {}): Promise<number> {
    const callbackUrl = opts.callbackUrl ?? this.defaultCallbackUrl;
    if (!callbackUrl) throw new Error('deliver needs a callbackUrl (option or simulator default)');
    const raw = typeof event === 'string' ? event : JSON.stringify(event);
    const parsed = typeof event === 'string' ? safeEventHead(event) : { id: event.id, type: event.type };
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'talkdesk-simulator' };
    const signature = opts.signature === undefined ? signBody(this.secret, raw) : opts.signature;
    if (signature !== null) headers['x-hub-signature'] = signature;

    const attempt = async (n: number): Promise<AttemptResult> => {
      const at = new Date();
      const result = await post(callbackUrl, raw, headers, this.timeoutMs);
      const ok = result.status >= 200 && result.status < 300;
      const record: DeliveryRecord = { eventId: parsed.id, eventType: parsed.type, attempt: n, at, callbackUrl, status: result.status, ok };
      if (result.error) record.error = result.error;
      this.records.push(record);
      return result;
    };

    const first = await attempt(1);
    if (!(first.status >= 200 && first.status < 300)) {
      const chain = this.retry(attempt);
      this.pending.add(chain);
      void chain.finally(() => this.pending.delete(chain));
    }
    return first.status;
  }

  private async retry(attempt: (n: number) => Promise<AttemptResult>): Promise<void> {
    for (const [i, delay] of this.retryDelaysMs.entries()) {
      if (!(await this.sleep(delay))) return;
      const r = await attempt(i + 2);
      if (r.status >= 200 && r.status < 300) return;
    }
  }

  /** Resolves true after `ms`, or false at once when the simulator stops. */
  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.stopped) {
        resolve(false);
        return;
      }
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve(true);
        }, ms),
        resolve,
      };
      // A pending 10-minute retry must not keep a test process alive.
      entry.timer.unref();
      this.timers.add(entry);
    });
  }

  /** Resolves once every background retry has succeeded or given up. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.resolve(false);
    }
    this.timers.clear();
  }
}

function safeEventHead(raw: string): { id: string; type: string } {
  try {
    const v = JSON.parse(raw) as { id?: unknown; type?: unknown };
    return { id: typeof v.id === 'string' ? v.id : '', type: typeof v.type === 'string' ? v.type : '' };
  } catch {
    return { id: '', type: '' };
  }
}
