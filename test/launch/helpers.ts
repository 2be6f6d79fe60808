import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { useSystem, type TestSystem } from '../support/system';
import { waitForPhase } from '../support/waits';

interface Cookie {
  value: string;
  path: string;
}

/**
 * A browser as far as the sign-in needs one: a cookie jar (by name and path; cookies
 * ignore ports, as browsers do) and redirects followed by hand, each hop recorded.
 */
export class TestBrowser {
  readonly jar = new Map<string, Cookie>();
  readonly hops: { url: string; status: number; location?: string }[] = [];

  private cookieHeader(url: URL): string {
    return [...this.jar.entries()]
      .filter(([, c]) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .map(([n, c]) => `${n}=${c.value}`)
      .join('; ');
  }

  private keep(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';').map((p) => p.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const path = attrs.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const maxAge = attrs.find((a) => a.toLowerCase().startsWith('max-age='))?.slice(8);
      if (value === '' || maxAge === '0') this.jar.delete(name);
      else this.jar.set(name, { value, path });
    }
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const u = new URL(url);
    const headers = new Headers(init.headers);
    const cookie = this.cookieHeader(u);
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(u, { ...init, headers, redirect: 'manual' });
    this.keep(res);
    this.hops.push({ url, status: res.status, location: res.headers.get('location') ?? undefined });
    return res;
  }

  /** GETs `url` and follows redirects (at most 8): the final answer and its URL. */
  async open(url: string): Promise<{ res: Response; url: string; body: string }> {
    let current = url;
    for (let i = 0; i < 8; i += 1) {
      const res = await this.request(current);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.arrayBuffer();
        current = new URL(location, current).href;
        continue;
      }
      return { res, url: current, body: await res.text() };
    }
    throw new Error(`more than 8 redirects from ${url}: ${JSON.stringify(this.hops.slice(-8))}`);
  }
}

export function launchUrl(sys: TestSystem, installationId: string, userHint?: string): string {
  const u = new URL(`${sys.web.url}/launch`);
  u.searchParams.set('talkdesk_installation_id', installationId);
  if (userHint) u.searchParams.set('talkdesk_user_id', userHint);
  return u.href;
}

/** A new installation delivered and active, with its account's users. */
export async function activeInstallation(
  sys: TestSystem,
  opts: { licensedUsers?: number; accountName?: string; installationId?: string } = {},
) {
  const { installation, event } = sys.simulator.createInstallation({
    licensedUsers: opts.licensedUsers ?? 3,
    accountName: opts.accountName,
    installationId: opts.installationId,
  });
  assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
  await waitForPhase(sys.client, installation.id, 'active');
  const users = sys.simulator.accountUsers(installation.id);
  const licensed = users.filter((u) => u.licensed);
  const unlicensed = users.filter((u) => !u.licensed);
  return { installation, event, users, licensed, unlicensed };
}

/** Signs `userId` in through the whole flow; returns the browser (holding the session cookie) and the /app page. */
export async function signIn(
  sys: TestSystem,
  installationId: string,
  userId: string,
  o: { browser?: TestBrowser } = {},
): Promise<{ browser: TestBrowser; body: string; status: number; url: string; headers: Headers }> {
  sys.simulator.signInAs(installationId, userId);
  // A browser given (its cookies kept): the app opened again in it.
  const browser = o.browser ?? new TestBrowser();
  const { res, body, url } = await browser.open(launchUrl(sys, installationId, userId));
  return { browser, body, status: res.status, url, headers: res.headers };
}

/** The value of `appconnect_sso_total{outcome}` in /metrics (0 when absent). */
export async function ssoMetric(sys: TestSystem, outcome: string): Promise<number> {
  // Metrics are served by the admin listener, not the public port.
  const text = await (await fetch(`${sys.web.adminUrl}/metrics`)).text();
  const m = new RegExp(`^appconnect_sso_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * A GET of `path` with the Sec-Fetch headers a browser sends (cross-site; Node's fetch forces its own Sec-Fetch-Mode):
 * the answer's status and body.
 */
export function asBrowser(sys: TestSystem, path: string, mode: string, dest: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': mode, 'sec-fetch-dest': dest };
    const req = request(`${sys.web.url}${path}`, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).end();
  });
}

/** The partner's own app: records the form posts it receives. */
export async function partnerApp(): Promise<{ url: string; posts: string[]; close(): Promise<void> }> {
  const posts: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST') posts.push(Buffer.concat(chunks).toString('utf8'));
      res.end('partner home');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/td/landing`;
  return { url, posts, close: () => new Promise((r) => server.close(() => r())) };
}

/** A system with the launch on whose worker a test may stop (Temporal down): started again after each test. */
export function useLaunchSystemWorkerRestarted(bind: (s: TestSystem) => void): void {
  let sys: TestSystem | undefined;
  useSystem(
    (s) => {
      sys = s;
      bind(s);
    },
    { launch: {} },
  );
  afterEach(async () => {
    await sys?.stopWorker();
    await sys?.startWorker();
  });
}
