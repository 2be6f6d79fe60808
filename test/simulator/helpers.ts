import { randomUUID } from 'node:crypto';
import { importPKCS8, SignJWT } from 'jose';
import { ASSERTION_TYPE, startSimulator, type Credentials, type Scope, type Simulator, type SimulatorOptions } from '../../src/simulator';

export const APP_ID = 'test-app-0001';
export const WEBHOOK_SECRET = 'test-webhook-secret-0123456789';

export function start(extra: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  return startSimulator({ appId: APP_ID, webhookSecret: WEBHOOK_SECRET, port: 0, ...extra });
}

/**
 * A simulator started before each test and stopped after it; `use` receives it. The returned
 * function restarts it with other options within a test (`use` receives the new one).
 */
export function useSimulator(
  use: (sim: Simulator) => void,
  extra: Partial<SimulatorOptions> = {},
): (other: Partial<SimulatorOptions>) => Promise<Simulator> {
  let sim: Simulator | undefined;
  const restart = async (options: Partial<SimulatorOptions>) => {
    await sim?.stop();
    sim = await start(options);
    use(sim);
    return sim;
  };
  beforeEach(() => restart(extra));
  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
  });
  return restart;
}

/** PEM from the event's base64 DER, the way a client must build it. */
export function pemOf(privateKeyBase64: string): string {
  const lines = privateKeyBase64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

export interface AssertionOverrides {
  alg?: string;
  kid?: string;
  iss?: string;
  sub?: string;
  aud?: string | string[];
  jti?: string | null;
  iat?: number;
  exp?: number;
  /** Sign with this base64 PKCS#8 key instead of the client's own. */
  privateKey?: string;
  /** Algorithm to import that key with (defaults to alg). */
  keyAlg?: string;
}

/** A client assertion per Talkdesk's signed-JWT recipe, with any field overridable. */
export async function signAssertion(creds: Credentials, audience: string, o: AssertionOverrides = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const alg = o.alg ?? creds.key_algorithm;
  const key = await importPKCS8(pemOf(o.privateKey ?? creds.private_key), o.keyAlg ?? alg);
  const claims: Record<string, unknown> = {
    iss: o.iss ?? creds.client_id,
    sub: o.sub ?? creds.client_id,
    aud: o.aud ?? audience,
    iat: o.iat ?? now,
    exp: o.exp ?? now + 300,
  };
  if (o.jti !== null) claims.jti = o.jti ?? randomUUID();
  return new SignJWT(claims).setProtectedHeader({ alg, kid: o.kid ?? creds.key_id }).sign(key);
}

export interface HttpResult {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

async function toResult(res: Response): Promise<HttpResult> {
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // non-JSON bodies are checked through `text`
  }
  return { status: res.status, headers: res.headers, body, text };
}

export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<HttpResult> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return toResult(res);
}

export function tokenForm(assertion: string, scope?: string): Record<string, string> {
  const form: Record<string, string> = {
    grant_type: 'client_credentials',
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: assertion,
  };
  if (scope !== undefined) form.scope = scope;
  return form;
}

/** A bearer token for the credentials, optionally narrowed to some scopes. */
export async function getToken(sim: Simulator, creds: Credentials, scopes?: Scope[]): Promise<string> {
  const r = await postForm(
    sim.tokenUrlFor(creds.client_id),
    tokenForm(await signAssertion(creds, sim.tokenUrlFor(creds.client_id)), scopes?.join(' ')),
  );
  if (r.status !== 200) throw new Error(`token request failed: ${r.status} ${r.text}`);
  return String(r.body.access_token);
}

export async function api(
  sim: Simulator,
  token: string | undefined,
  method: string,
  pathOrUrl: string,
  body?: string,
  contentType = 'application/json',
): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = contentType;
  const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${sim.url}${pathOrUrl}`;
  const init: RequestInit = { method, headers };
  if (body !== undefined) init.body = body;
  return toResult(await fetch(url, init));
}

export const instPath = (installationId: string) => `/apps/${APP_ID}/installations/${installationId}`;
