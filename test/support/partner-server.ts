import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyHookSignature, verifyTimedHook } from '../../src/partner/signature';
import type { HookBody } from '../../src/partner/http';

/** One hook as the test partner received it. */
export interface ReceivedHook {
  at: number;
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: HookBody;
  signatureValid: boolean;
  /** The timed signature (timestamp, idempotency key, body) verifies and the timestamp is recent. */
  timedSignatureValid: boolean;
  /** The status the server answered. */
  status: number;
}

/** A scripted answer for the next hook(s): a status (with headers, a JSON body or a `raw` one), or hanging past the caller's timeout. */
export type ScriptedAnswer = { status: number; headers?: Record<string, string>; body?: unknown; raw?: string } | { hangMs: number };

interface ModelUser {
  active: boolean;
  role: string;
}
/** The reference partner's account: what the conformance suite observes through the HTTP implementation. */
export interface ModelAccount {
  installationId: string;
  createdBy: string;
  status: 'active' | 'disabled';
  users: Map<string, ModelUser>;
  subscription: unknown;
  trial?: unknown;
  settings: Record<string, unknown>;
  /** How many times starter content was created for it (a restore does not add one). */
  starterContentCreated: number;
}

/**
 * A small partner backend on loopback that stores every hook it receives and
 * applies them to an in-memory product, the way a partner should: verify the
 * signature and the timestamp (docs/partner.md), dedupe by `idempotency-key` (signed
 * with the timestamp), key everything by Talkdesk ids, and remember the provisions and
 * updates an undo or revert named, so that one still processing (or arriving later)
 * changes nothing.
 */
export class TestPartnerServer {
  readonly received: ReceivedHook[] = [];
  readonly accounts = new Map<string, ModelAccount>();
  private readonly done = new Map<string, number>();
  /** `provision_id` / `update_id` of the undos and reverts taken: those calls (and the provision's pages) change nothing. */
  readonly undone = new Set<string>();
  private readonly processing = new Set<Promise<void>>();
  /** Keys of hooks still processing (see `conflictWhileProcessing`). */
  private readonly inProgress = new Set<string>();
  /**
   * Answer a hook whose key is still processing `409` with no `reason`, as idempotency middleware does
   * (Stripe's `idempotency_error`; the IETF Idempotency-Key draft). Off: the retry is processed again.
   */
  conflictWhileProcessing = false;
  /** How long the partner works on a hook before it applies it and answers (0: at once): a slow partner our timeout gives up on. */
  processingMs: (body: HookBody) => number = () => 0;
  /** A hook the partner works on until the promise given for it settles (undefined: `processingMs` decides). */
  processingUntil: (body: HookBody) => Promise<void> | undefined = () => undefined;
  private readonly script: ScriptedAnswer[] = [];
  /** Answer every hook with this when no script is queued (e.g. 503 for a partner that is down). */
  fallback: ScriptedAnswer | undefined;
  /** The partner's clock, Unix ms (a test moves it to show an old hook refused). */
  now: () => number = Date.now;
  private server!: http.Server;
  url = '';

  constructor(readonly secrets: string[]) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Queues answers for the next hooks, in order. */
  answerNext(...answers: ScriptedAnswer[]): void {
    this.script.push(...answers);
  }

  /** Resolves once every hook still processing has been applied. */
  async settled(): Promise<void> {
    while (this.processing.size > 0) await Promise.all([...this.processing]);
  }

  hooks(type?: string, installationId?: string): ReceivedHook[] {
    return this.received.filter((h) => (!type || h.body.type === type) && (!installationId || h.body.installation_id === installationId));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const signatureValid = verifyHookSignature(raw, req.headers['x-appconnect-signature'] as string | undefined, this.secrets);
      const timedSignatureValid = verifyTimedHook(raw, req.headers, this.secrets, Math.floor(this.now() / 1000));
      const hook: ReceivedHook = {
        at: Date.now(),
        headers: req.headers,
        raw,
        body: JSON.parse(raw) as HookBody,
        signatureValid,
        timedSignatureValid,
        status: 0,
      };
      this.received.push(hook);
      const scripted = this.script.shift() ?? this.fallback;
      if (scripted && 'hangMs' in scripted) {
        setTimeout(() => this.answer(res, hook, { status: 504 }), scripted.hangMs).unref();
        return;
      }
      if (scripted) return this.answer(res, hook, scripted);
      if (!signatureValid || !timedSignatureValid) return this.answer(res, hook, { status: 401, body: { reason: 'bad signature' } });
      const key = String(req.headers['idempotency-key']);
      if (this.conflictWhileProcessing && this.inProgress.has(key)) {
        const error = { type: 'idempotency_error', message: 'A request with this key is already being processed.' };
        return this.answer(res, hook, { status: 409, body: { error } });
      }
      const commit = () => {
        if (!this.done.has(key)) this.done.set(key, this.apply(hook.body));
        this.answer(res, hook, { status: 200, body: { partner_account_id: `pa_${hook.body.account_id}` } });
      };
      const gate = this.processingUntil(hook.body);
      const ms = this.processingMs(hook.body);
      if (!gate && ms <= 0) return commit();
      this.inProgress.add(key);
      const later = (gate ?? new Promise<void>((resolve) => setTimeout(resolve, ms))).then(commit);
      this.processing.add(later);
      void later.finally(() => {
        this.processing.delete(later);
        this.inProgress.delete(key);
      });
    });
  }

  private answer(
    res: http.ServerResponse,
    hook: ReceivedHook,
    a: { status: number; headers?: Record<string, string>; body?: unknown; raw?: string },
  ): void {
    hook.status = a.status;
    if (res.writableEnded || res.destroyed) return;
    res.writeHead(a.status, { 'content-type': 'application/json', ...(a.headers ?? {}) });
    res.end(a.raw ?? (a.body === undefined ? '' : JSON.stringify(a.body)));
  }

  /** The reference product's reaction to each hook type. */
  private apply(b: HookBody): number {
    const d = b.data as Record<string, unknown>;
    const acct = b.account_id ? this.accounts.get(b.account_id) : undefined;
    // The contract: an undo or revert may arrive before the call it names commits; that call then changes nothing.
    const undoes = b.type === 'account.undo_provision' ? d.provision_id : b.type === 'account.revert_update' ? d.update_id : undefined;
    if (typeof undoes === 'string') this.undone.add(undoes);
    if (this.undone.has(b.type === 'account.users' ? String(d.provision_id) : b.id)) return Date.now();
    const addUsers = (a: ModelAccount, users: { id: string; role: string }[]) => {
      for (const u of users) a.users.set(u.id, { active: true, role: u.role });
    };
    switch (b.type) {
      case 'account.provision': {
        const account: ModelAccount = acct ?? {
          installationId: b.installation_id,
          createdBy: b.installation_id,
          status: 'active',
          users: new Map(),
          subscription: null,
          settings: { theme: 'default' },
          starterContentCreated: 1,
        };
        if (account.installationId !== b.installation_id) {
          // A reinstall: the earlier installation's plan is not this one's.
          account.subscription = null;
          delete account.trial;
        }
        account.installationId = b.installation_id;
        account.status = 'active';
        addUsers(account, d.users as { id: string; role: string }[]);
        this.accounts.set(b.account_id as string, account);
        break;
      }
      case 'account.users':
        if (acct) addUsers(acct, d.users as { id: string; role: string }[]);
        break;
      case 'account.update':
        // The contract: only for the account's current installation (an earlier one's late call changes nothing).
        if (!acct || acct.installationId !== b.installation_id) break;
        addUsers(acct, d.users_added as { id: string; role: string }[]);
        for (const id of d.users_removed as string[]) acct.users.set(id, { ...(acct.users.get(id) ?? { role: 'user' }), active: false });
        if (d.subscription) acct.subscription = d.subscription;
        break;
      case 'account.revert_update':
        if (!acct || acct.installationId !== b.installation_id) break;
        for (const id of d.users_added as string[]) acct.users.delete(id);
        for (const id of d.users_deactivated as string[]) acct.users.set(id, { ...(acct.users.get(id) ?? { role: 'user' }), active: true });
        acct.subscription = d.previous_subscription;
        break;
      case 'account.undo_provision':
        if (acct && acct.installationId === b.installation_id) {
          if (acct.createdBy === b.installation_id) this.accounts.delete(b.account_id as string);
          else acct.status = 'disabled';
        }
        break;
      case 'account.deprovision':
        if (acct && acct.installationId === b.installation_id) {
          acct.status = 'disabled';
          for (const u of acct.users.values()) u.active = false;
        }
        break;
      case 'account.trial':
        // The contract: only for the account's current installation (a late event of an earlier one is ignored).
        if (acct && acct.installationId === b.installation_id) acct.trial = d.trial;
        break;
      default:
        break;
    }
    return Date.now();
  }
}
