import { TalkdeskError, TalkdeskHttpError, TalkdeskUnavailableError } from '../../talkdesk/errors';

/** Why a sign-in failed: the reason code, its HTTP status, and what the page tells the person. */
export const FAILURE_REASONS = {
  unknown_installation: {
    status: 404,
    sentence: "We could not find this app's installation for your Talkdesk account.",
    next: 'Open the app again from Talkdesk. If this keeps happening, ask your Talkdesk administrator to check that the app is installed.',
  },
  installation_inactive: {
    status: 409,
    sentence: 'This app is not active in your Talkdesk account right now: it is still being installed, or it was uninstalled or rejected.',
    next: 'Ask your Talkdesk administrator to install or renew the app, then open it again from Talkdesk.',
  },
  state_invalid: {
    status: 400,
    sentence: 'Your sign-in could not be completed: the sign-in request expired, was already used, or was started in another browser.',
    next: 'Open the app again from Talkdesk, in this browser.',
  },
  oauth_error: {
    status: 401,
    sentence: 'Talkdesk did not confirm your sign-in.',
    next: 'Open the app again from Talkdesk; if Talkdesk asks you to allow access, allow it.',
  },
  talkdesk_refused: {
    status: 502,
    sentence: 'Talkdesk refused to confirm who you are.',
    next: 'Open the app again from Talkdesk in a few minutes.',
  },
  signed_out: {
    status: 401,
    sentence: 'You signed out of Talkdesk while this sign-in was under way.',
    next: 'Open the app again from Talkdesk.',
  },
  not_licensed: {
    status: 403,
    sentence: 'Your Talkdesk user does not have access to this app.',
    next: 'Ask your Talkdesk administrator to give you a licence for the app, then open it again from Talkdesk.',
  },
  talkdesk_busy: {
    status: 503,
    sentence: 'Talkdesk asked us to slow down, so we could not confirm your sign-in just now.',
    next: 'Open the app again from Talkdesk in a few minutes.',
  },
  talkdesk_unreachable: {
    status: 503,
    sentence: 'We could not reach Talkdesk to confirm your sign-in.',
    next: 'Open the app again from Talkdesk in a few minutes.',
  },
  store_unavailable: {
    status: 503,
    sentence: 'We could not reach our own records to sign you in.',
    next: 'Open the app again from Talkdesk in a minute.',
  },
  internal_error: {
    status: 500,
    sentence: 'Something went wrong on our side while signing you in.',
    next: 'Open the app again from Talkdesk in a few minutes.',
  },
} as const;

export type FailureReason = keyof typeof FAILURE_REASONS;

/** A sign-in that cannot go on; caught by the routes and shown as the failure page. */
export class SsoFailure extends Error {
  override readonly name = 'SsoFailure';
  constructor(
    readonly reason: FailureReason,
    readonly facts: {
      installationId?: string;
      accountId?: string;
      accountName?: string;
      oauthError?: string;
      detail?: string;
      /** Talkdesk's Retry-After of a 429, in whole seconds: the failure page's own Retry-After. */
      retryAfterSeconds?: number;
    } = {},
  ) {
    super(`sign-in failed: ${reason}${facts.detail ? ` (${facts.detail})` : ''}`);
  }
}

/**
 * A Talkdesk call of a sign-in that failed, as the failure the person sees: Talkdesk not reached,
 * Talkdesk rate-limiting us (its 429, with its Retry-After passed on to the browser), Talkdesk
 * answering another error (kind and status in `detail`), or our own fault before anything was
 * sent (a link outside TALKDESK_ALLOWED_HOSTS, a key that does not sign): `internal_error`, not
 * "Talkdesk refused", which would send the person to wait for nothing. Anything else as it was.
 */
export function talkdeskFailure(err: unknown, facts: SsoFailure['facts'], step: string): unknown {
  if (err instanceof TalkdeskUnavailableError) return new SsoFailure('talkdesk_unreachable', { ...facts, detail: step });
  if (err instanceof TalkdeskHttpError && err.kind === 'rate_limited') {
    const wait = err.retryAfterMs === undefined ? {} : { retryAfterSeconds: Math.max(1, Math.ceil(err.retryAfterMs / 1000)) };
    return new SsoFailure('talkdesk_busy', { ...facts, ...wait, detail: `${step}_${err.kind}_${err.status}` });
  }
  if (err instanceof TalkdeskHttpError)
    return new SsoFailure('talkdesk_refused', { ...facts, detail: `${step}_${err.kind}_${err.status}` });
  if (err instanceof TalkdeskError) return new SsoFailure('internal_error', { ...facts, detail: `${step}_${err.name}` });
  return err;
}
