import type { SimResponse } from './http-util';
import type { RouteName } from './types';

const CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
  500: 'internal_error',
  502: 'bad_gateway',
  503: 'service_unavailable',
};

export function defaultCode(status: number): string {
  return CODES[status] ?? `http_${status}`;
}

const isStateRoute = (route: RouteName | 'unknown'): boolean => route === 'installationState' || route === 'credentialsState';

/**
 * An error in the body shape of its endpoint family: `{error, error_description}` for
 * OAuth, `{error}` for the state endpoints, `{code, message}` for the rest of the API.
 */
export function errorResponse(
  route: RouteName | 'unknown',
  status: number,
  message: string,
  opts: { oauthError?: string; headers?: Record<string, string> } = {},
): SimResponse {
  let body: Record<string, string>;
  if (route === 'token') {
    body = { error: opts.oauthError ?? (status >= 500 ? 'server_error' : defaultCode(status)), error_description: message };
  } else if (isStateRoute(route)) {
    body = { error: message };
  } else {
    body = { code: defaultCode(status), message };
  }
  return opts.headers ? { status, body, headers: opts.headers } : { status, body };
}
