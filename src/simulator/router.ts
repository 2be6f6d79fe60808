import type { RouteName } from './types';

export interface RouteParams {
  appId?: string;
  installationId?: string;
  userId?: string;
  clientId?: string;
  accountId?: string;
}

export interface RouteMatch {
  route: RouteName | 'unknown';
  /** False when the path is known but the method is not the one it serves. */
  methodAllowed: boolean;
  method: string;
  params: RouteParams;
}

interface RouteDef {
  route: RouteName;
  method: 'GET' | 'POST';
  pattern: RegExp;
  names: (keyof RouteParams)[];
}

const SEG = '([^/]+)';
const DEFS: RouteDef[] = [
  // Per account, as Talkdesk's (events.ts): there is no token or sign-in endpoint at the API root.
  { route: 'token', method: 'POST', pattern: new RegExp(`^/accounts/${SEG}/oauth/token$`), names: ['accountId'] },
  { route: 'authorize', method: 'GET', pattern: new RegExp(`^/accounts/${SEG}/oauth/authorize$`), names: ['accountId'] },
  { route: 'userinfo', method: 'GET', pattern: /^\/users\/me$/, names: [] },
  { route: 'account', method: 'GET', pattern: /^\/account$/, names: [] },
  { route: 'users', method: 'GET', pattern: /^\/users$/, names: [] },
  { route: 'users', method: 'GET', pattern: new RegExp(`^/users/${SEG}$`), names: ['userId'] },
  {
    route: 'installation',
    method: 'GET',
    pattern: new RegExp(`^/apps/${SEG}/installations/${SEG}$`),
    names: ['appId', 'installationId'],
  },
  {
    route: 'licensedUsers',
    method: 'GET',
    pattern: new RegExp(`^/apps/${SEG}/installations/${SEG}/users$`),
    names: ['appId', 'installationId'],
  },
  {
    route: 'installationState',
    method: 'POST',
    pattern: new RegExp(`^/apps/${SEG}/installations/${SEG}/state$`),
    names: ['appId', 'installationId'],
  },
  {
    route: 'credentialsState',
    method: 'POST',
    pattern: new RegExp(`^/apps/${SEG}/installations/${SEG}/credentials/${SEG}/state$`),
    names: ['appId', 'installationId', 'clientId'],
  },
];

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Finds the route for a path; trailing slashes and other spellings are unknown, as they would 404 upstream. */
export function matchRoute(method: string, pathname: string): RouteMatch {
  for (const def of DEFS) {
    const m = def.pattern.exec(pathname);
    if (!m) continue;
    const params: RouteParams = {};
    def.names.forEach((name, i) => {
      const v = m[i + 1];
      if (v !== undefined) params[name] = decode(v);
    });
    return { route: def.route, methodAllowed: method === def.method, method: def.method, params };
  }
  return { route: 'unknown', methodAllowed: false, method: '', params: {} };
}
