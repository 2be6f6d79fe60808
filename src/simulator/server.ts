import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleApi, type ApiConfig } from './api';
import { Deliverer, signBody, type DeliverOptions } from './delivery';
import { errorResponse } from './errors';
import { authorizeUrl, tokenUrl, type EventContext } from './events';
import { FaultInjector, type AppliedFault } from './faults';
import { BodyTooLargeError, readBody, sendResponse, tryParseJson, type SimResponse } from './http-util';
import { hexId } from './ids';
import { Lifecycle, type CreateInstallationOptions, type RotateOptions, type UpdateInstallationChange } from './lifecycle';
import { handleToken, type TokenEndpointConfig } from './oauth';
import { matchRoute } from './router';
import { SimState } from './state';
import { SsoSimulator } from './sso';
import type {
  CallRecord,
  ChaosOptions,
  ClientView,
  CredentialsRotatedEvent,
  DeliveryRecord,
  EventOptions,
  Fault,
  InstallationStateName,
  SimInstallationView,
  InstalledEvent,
  RouteName,
  SimEvent,
  SimulatorOptions,
  SubscriptionInfo,
  TrialEndedBy,
  TrialEndedEvent,
  TrialEndedReason,
  TrialStartedEvent,
  TrialExtendedEvent,
  UninstallReason,
  UninstalledEvent,
  UpdatedEvent,
  UserLogoutEvent,
} from './types';

const BODY_LIMIT = 64 * 1024;
const TALKDESK_RETRY_DELAYS_MS: [number, number] = [5 * 60_000, 10 * 60_000];

/** The simulated Talkdesk: HTTP API + OAuth server, lifecycle event builders and webhook sender. */
export interface Simulator {
  /** Base URL, e.g. http://127.0.0.1:4010 (also `_links.root`). */
  readonly url: string;
  readonly port: number;
  readonly appId: string;
  /**
   * The token endpoint (`_links.tokens`) of the account of an installation, or of a client's installation (by either
   * id): the only `aud` its clients' assertions may carry.
   */
  tokenUrlFor(installationOrClientId: string): string;
  /** The account's sign-in endpoint (`_links.authorization`), by installation or client id. */
  authorizeUrlFor(installationOrClientId: string): string;
  /** Every request received, in arrival order (live array). */
  readonly calls: readonly CallRecord[];
  /** Every delivery attempt, in order (live array). */
  readonly deliveries: readonly DeliveryRecord[];

  stop(): Promise<void>;

  createInstallation(
    opts?: CreateInstallationOptions,
    eventOpts?: EventOptions,
  ): { installation: SimInstallationView; event: InstalledEvent };
  /** `add`: how many new users of the account to license, or ids of its users not licensed now (a licence given back). */
  updateUsers(installationId: string, change: { add?: number | string[]; remove?: string[] }, eventOpts?: EventOptions): UpdatedEvent;
  updateSubscription(installationId: string, subscription: SubscriptionInfo, eventOpts?: EventOptions): UpdatedEvent;
  updateInstallation(installationId: string, change: UpdateInstallationChange, eventOpts?: EventOptions): UpdatedEvent;
  rotateCredentials(installationId: string, opts?: RotateOptions, eventOpts?: EventOptions): CredentialsRotatedEvent;
  uninstall(installationId: string, reason?: UninstallReason, eventOpts?: EventOptions): UninstalledEvent;
  startTrial(installationId: string, expiresAt: Date | string, eventOpts?: EventOptions): TrialStartedEvent;
  extendTrial(installationId: string, expiresAt: Date | string, eventOpts?: EventOptions): TrialExtendedEvent;
  endTrial(
    installationId: string,
    end: { reason: TrialEndedReason; by: TrialEndedBy; endedAt?: Date },
    eventOpts?: EventOptions,
  ): TrialEndedEvent;

  /** POSTs the event (or a raw JSON string) signed; resolves with the first attempt's status (0 = connection error). */
  deliver(event: SimEvent | string, opts?: DeliverOptions): Promise<number>;
  /** Resolves when every background retry has succeeded or given up. */
  deliveriesSettled(): Promise<void>;
  /** Once every answer a delay fault holds back has been sent, its call's status recorded (checks that count calls). */
  lateAnswersSettled(): Promise<void>;
  /** `sha256=<hex HMAC-SHA256 of raw with webhookSecret>`. */
  signBody(raw: string | Buffer): string;

  /** The next `count` requests on `route` get `fault`; `after`: once that many requests have passed (a given page). */
  failNext(route: RouteName, count: number, fault: Fault, opts?: { after?: number }): void;
  setChaos(chaos: ChaosOptions | null): void;
  /** Drops scripted faults and chaos. */
  clearFaults(): void;

  stateCalls(installationId: string): CallRecord[];
  credentialsStateCalls(installationId: string): CallRecord[];
  /** Called with each call once answered (or dropped); returns an unsubscribe function. */
  onCall(listener: (call: CallRecord) => void): () => void;
  /** The first answered call (past or future) matching predicate. */
  waitForCall(predicate: (call: CallRecord) => boolean, timeoutMs?: number): Promise<CallRecord>;

  /** Every secret issued or received: webhook secret, client secrets, private keys (base64 and PEM), access tokens, client assertions. */
  issuedSecrets(): string[];

  setInstallationState(installationId: string, state: InstallationStateName, reason?: string | null): void;
  getInstallation(installationId: string): SimInstallationView | undefined;
  getClient(clientId: string): ClientView | undefined;
  /** Makes access tokens (of one installation, or all) expire now, to exercise 401 handling. */
  expireTokens(installationId?: string): void;

  /** Sign-in: the user `GET /oauth/authorize` signs in for this installation's account (else it shows a page to pick one). */
  signInAs(installationId: string, userId: string): void;
  /** The next authorization request redirects back with this OAuth `error` instead of a code. */
  denyNextAuthorization(error?: string, description?: string): void;
  /** Registers the app's redirect URL (exact string); once one is, `/oauth/authorize` refuses any other with a page. */
  registerRedirectUri(uri: string): void;
  /** Every user of the installation's account, and whether the app is licensed to them. */
  accountUsers(installationId: string): { id: string; name: string; email: string; licensed: boolean }[];
  /** The optional `user.logout` event for a user of the installation. */
  userLogout(installationId: string, userId: string, eventOpts?: EventOptions): UserLogoutEvent;
}

const nonNegativeSeconds = (seconds: number | undefined, what: string): number => {
  if (!((seconds ?? 0) >= 0)) throw new Error(`${what} must be >= 0`);
  return seconds ?? 0;
};

class SimulatorServer implements Simulator {
  readonly calls: CallRecord[] = [];
  readonly url: string;
  readonly port: number;
  private readonly ctx: EventContext;
  private readonly state: SimState;
  private readonly lifecycle: Lifecycle;
  private readonly faults = new FaultInjector();
  private readonly deliverer: Deliverer;
  private readonly listeners = new Set<(call: CallRecord) => void>();
  /** Pending late answers; stop() releases them so no handler is left hanging. */
  private readonly lateTimers = new Map<NodeJS.Timeout, () => void>();
  private readonly lateAnswers = new Set<Promise<void>>();
  private stopping: Promise<void> | undefined;
  private readonly tokenCfg: TokenEndpointConfig;
  private readonly apiCfg: ApiConfig;
  private readonly sso: SsoSimulator;

  constructor(
    private readonly server: http.Server,
    private readonly options: SimulatorOptions,
    port: number,
  ) {
    const host = options.host ?? '127.0.0.1';
    this.port = port;
    this.url = `http://${host}:${port}`;
    const ctx: EventContext = {
      appId: options.appId,
      appVersionId: options.appVersionId ?? hexId(),
      appVersionName: options.appVersionName ?? '1.0.0',
      baseUrl: this.url,
    };
    this.ctx = ctx;
    this.state = new SimState(options.appId, options.revokeOnUninstall ?? false);
    this.state.addSecret(options.webhookSecret);
    this.lifecycle = new Lifecycle(this.state, ctx, options.rotationGraceSeconds ?? 7 * 24 * 3600, options.openStateNames);
    this.deliverer = new Deliverer(
      options.webhookSecret,
      options.retryDelaysMs ?? TALKDESK_RETRY_DELAYS_MS,
      options.deliveryTimeoutMs ?? 10_000,
      options.callbackUrl,
    );
    this.tokenCfg = {
      state: this.state,
      tokenUrlOf: (accountId) => tokenUrl(ctx, accountId),
      tokenTtlSeconds: options.tokenTtlSeconds ?? 600,
      clockSkewSeconds: options.clockSkewSeconds ?? 10,
      tokenScopeActivationMs: nonNegativeSeconds(options.tokenScopeActivationSeconds, 'tokenScopeActivationSeconds') * 1000,
    };
    this.sso = new SsoSimulator(this.state, ctx, this.tokenCfg.tokenTtlSeconds);
    this.tokenCfg.codeGrant = (req, fields, call, accountId) => this.sso.codeGrant(this.tokenCfg, req, fields, call, accountId);
    const activation = nonNegativeSeconds(options.scopeActivationSeconds, 'scopeActivationSeconds');
    this.apiCfg = { state: this.state, ctx, scopeActivationMs: activation * 1000 };
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => {
        sendResponse(res, { status: 500, body: { code: 'internal_error', message: String(err) } });
      });
    });
  }

  get appId(): string {
    return this.options.appId;
  }

  get deliveries(): readonly DeliveryRecord[] {
    return this.deliverer.records;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', this.url);
    const match = matchRoute(method, url.pathname);
    const call: CallRecord = { at: new Date(), route: match.route, method, path: url.pathname, status: 0 };
    if (url.search) call.query = url.search.slice(1);
    if (match.params.installationId) call.installationId = match.params.installationId;
    this.calls.push(call);

    let raw = '';
    try {
      raw = await readBody(req, BODY_LIMIT);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return this.finish(res, call, errorResponse(match.route, 413, err.message));
      throw err;
    }
    if (match.route === 'installationState' || match.route === 'credentialsState') {
      const parsed = tryParseJson(raw);
      call.body = parsed.ok ? parsed.value : raw;
    }

    if (match.route === 'unknown') return this.finish(res, call, errorResponse('unknown', 404, `no route for ${method} ${url.pathname}`));
    if (!match.methodAllowed) {
      return this.finish(res, call, errorResponse(match.route, 405, `use ${match.method}`, { headers: { allow: match.method } }));
    }

    const fault = this.faults.take(match.route);
    if (fault) call.fault = fault.label;
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      this.notify(call);
      return;
    }
    if (fault?.kind === 'status') return this.finish(res, call, this.faultResponse(match.route, fault));

    const route = match.route;
    const handled =
      route === 'token'
        ? await handleToken(this.tokenCfg, req, raw, call, match.params.accountId)
        : route === 'authorize'
          ? this.sso.authorize(url, match.params.accountId)
          : route === 'userinfo'
            ? this.sso.userinfo(req)
            : handleApi(this.apiCfg, { route, req, url, raw, params: match.params, call });
    // A delay fault lets the request take effect and only answers late (the "did it happen?" case).
    if (fault?.kind === 'delay') await this.late(fault.ms);
    const response = fault?.kind === 'delay' && fault.body ? { ...handled, body: fault.body, text: undefined } : handled;
    this.finish(res, call, response);
  }

  tokenUrlFor(installationOrClientId: string): string {
    return tokenUrl(this.ctx, this.accountOf(installationOrClientId));
  }

  authorizeUrlFor(installationOrClientId: string): string {
    return authorizeUrl(this.ctx, this.accountOf(installationOrClientId));
  }

  private accountOf(id: string): string {
    const inst = this.state.installations.get(this.state.clients.get(id)?.installationId ?? id);
    if (!inst) throw new Error(`unknown installation or client ${id}`);
    return inst.accountId;
  }

  private faultResponse(route: RouteName, fault: Extract<AppliedFault, { kind: 'status' }>): SimResponse {
    const headers: Record<string, string> = {};
    if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
    Object.assign(headers, fault.headers);
    if (fault.body) return { status: fault.status, body: fault.body, headers };
    return errorResponse(route, fault.status, `injected fault ${fault.status}`, {
      headers,
      ...(fault.status === 429 ? { oauthError: 'temporarily_unavailable' } : {}),
    });
  }

  private late(ms: number): Promise<void> {
    const held = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.lateTimers.delete(timer);
        resolve();
      }, ms);
      this.lateTimers.set(timer, resolve);
    });
    this.lateAnswers.add(held);
    void held.then(() => this.lateAnswers.delete(held));
    return held;
  }

  async lateAnswersSettled(): Promise<void> {
    while (this.lateAnswers.size > 0) await Promise.all([...this.lateAnswers]);
    // The handlers waiting on them record their calls' status right after (their reactions were registered first).
    await new Promise((resolve) => setImmediate(resolve));
  }

  private finish(res: ServerResponse, call: CallRecord, response: SimResponse): void {
    call.status = response.status;
    sendResponse(res, response);
    this.notify(call);
  }

  private notify(call: CallRecord): void {
    for (const l of this.listeners) l(call);
  }

  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      this.deliverer.stop();
      this.server.close(() => resolve());
      // Open keep-alive and in-flight sockets would otherwise hold close() open.
      this.server.closeAllConnections();
      for (const [timer, release] of this.lateTimers) {
        clearTimeout(timer);
        release();
      }
      this.lateTimers.clear();
      this.listeners.clear();
    });
    return this.stopping;
  }

  createInstallation(opts?: CreateInstallationOptions, eventOpts?: EventOptions) {
    return this.lifecycle.createInstallation(opts, eventOpts);
  }

  updateUsers(installationId: string, change: { add?: number | string[]; remove?: string[] }, eventOpts?: EventOptions): UpdatedEvent {
    const c: UpdateInstallationChange = {};
    if (change.add !== undefined) c.addUsers = change.add;
    if (change.remove !== undefined) c.removeUsers = change.remove;
    return this.lifecycle.updateInstallation(installationId, c, eventOpts);
  }

  updateSubscription(installationId: string, subscription: SubscriptionInfo, eventOpts?: EventOptions): UpdatedEvent {
    return this.lifecycle.updateInstallation(installationId, { subscription }, eventOpts);
  }

  updateInstallation(installationId: string, change: UpdateInstallationChange, eventOpts?: EventOptions): UpdatedEvent {
    return this.lifecycle.updateInstallation(installationId, change, eventOpts);
  }

  rotateCredentials(installationId: string, opts?: RotateOptions, eventOpts?: EventOptions): CredentialsRotatedEvent {
    return this.lifecycle.rotateCredentials(installationId, opts, eventOpts);
  }

  uninstall(installationId: string, reason?: UninstallReason, eventOpts?: EventOptions): UninstalledEvent {
    return this.lifecycle.uninstall(installationId, reason, eventOpts);
  }

  startTrial(installationId: string, expiresAt: Date | string, eventOpts?: EventOptions): TrialStartedEvent {
    return this.lifecycle.startTrial(installationId, expiresAt, eventOpts);
  }

  extendTrial(installationId: string, expiresAt: Date | string, eventOpts?: EventOptions): TrialExtendedEvent {
    return this.lifecycle.extendTrial(installationId, expiresAt, eventOpts);
  }

  endTrial(
    installationId: string,
    end: { reason: TrialEndedReason; by: TrialEndedBy; endedAt?: Date },
    eventOpts?: EventOptions,
  ): TrialEndedEvent {
    return this.lifecycle.endTrial(installationId, end, eventOpts);
  }

  deliver(event: SimEvent | string, opts?: DeliverOptions): Promise<number> {
    return this.deliverer.deliver(event, opts);
  }

  deliveriesSettled(): Promise<void> {
    return this.deliverer.settled();
  }

  signBody(raw: string | Buffer): string {
    return signBody(this.options.webhookSecret, raw);
  }

  failNext(route: RouteName, count: number, fault: Fault, opts?: { after?: number }): void {
    this.faults.failNext(route, count, fault, opts);
  }

  setChaos(chaos: ChaosOptions | null): void {
    this.faults.setChaos(chaos);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  stateCalls(installationId: string): CallRecord[] {
    return this.calls.filter((c) => c.route === 'installationState' && c.installationId === installationId);
  }

  credentialsStateCalls(installationId: string): CallRecord[] {
    return this.calls.filter((c) => c.route === 'credentialsState' && c.installationId === installationId);
  }

  onCall(listener: (call: CallRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  waitForCall(predicate: (call: CallRecord) => boolean, timeoutMs = 30_000): Promise<CallRecord> {
    const done = this.calls.find((c) => (c.status !== 0 || c.fault === 'drop') && predicate(c));
    if (done) return Promise.resolve(done);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no matching call within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onCall((c) => {
        if (!predicate(c)) return;
        clearTimeout(timer);
        off();
        resolve(c);
      });
    });
  }

  issuedSecrets(): string[] {
    return this.state.allSecrets();
  }

  setInstallationState(installationId: string, state: InstallationStateName, reason: string | null = null): void {
    this.lifecycle.setInstallationState(installationId, state, reason);
  }

  getInstallation(installationId: string): SimInstallationView | undefined {
    const inst = this.state.installations.get(installationId);
    return inst ? this.state.viewInstallation(inst) : undefined;
  }

  getClient(clientId: string): ClientView | undefined {
    const client = this.state.clients.get(clientId);
    return client ? this.state.viewClient(client) : undefined;
  }

  signInAs(installationId: string, userId: string): void {
    this.sso.signInAs(installationId, userId);
  }

  registerRedirectUri(uri: string): void {
    this.sso.registerRedirectUri(uri);
  }

  denyNextAuthorization(error?: string, description?: string): void {
    this.sso.denyNextAuthorization(error, description);
  }

  accountUsers(installationId: string): { id: string; name: string; email: string; licensed: boolean }[] {
    return this.sso.accountUsers(installationId);
  }

  userLogout(installationId: string, userId: string, eventOpts?: EventOptions): UserLogoutEvent {
    return this.sso.userLogout(installationId, userId, eventOpts);
  }

  expireTokens(installationId?: string): void {
    const now = Date.now();
    for (const t of this.state.tokens.values()) {
      if (installationId === undefined || t.installationId === installationId) t.expiresAt = Math.min(t.expiresAt, now);
    }
  }
}

/** Starts the simulator on 127.0.0.1 (port 0 = a free port). */
export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  if (!options.appId) throw new Error('appId is required');
  if (!options.webhookSecret) throw new Error('webhookSecret is required');
  const host = options.host ?? '127.0.0.1';
  const server = http.createServer({ keepAliveTimeout: 5_000 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return new SimulatorServer(server, options, port);
}
