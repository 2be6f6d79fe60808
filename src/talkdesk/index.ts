/** Talkdesk API client: the one import point for activities. */
export { TalkdeskClient, endpointOf, type TalkdeskClientOptions, type TokenRequest } from './client';
export {
  createClientAssertion,
  isTalkdeskKeyAlgorithm,
  CLIENT_ASSERTION_TTL_SECONDS,
  TALKDESK_KEY_ALGORITHMS,
  type ClientAssertionInput,
  type TalkdeskKeyAlgorithm,
} from './assertion';
export { assertAllowedUrl, matchAllowedUrl, parseAllowList, type AllowListEntry, type AllowedUrl } from './allowlist';
export {
  ClientAssertionError,
  DisallowedHostError,
  TalkdeskError,
  TalkdeskHttpError,
  TalkdeskProtocolError,
  TalkdeskRequestError,
  TalkdeskUnavailableError,
  TALKDESK_HTTP_ERROR_KINDS,
  kindForStatus,
  type TalkdeskHttpErrorKind,
} from './errors';
export { toActivityFailure, TALKDESK_FAILURE_TYPES, NON_RETRYABLE_TALKDESK_FAILURE_TYPES, type TalkdeskFailureType } from './failures';
export {
  KNOWN_INSTALLATION_STATES,
  type InstallationStateChange,
  type KnownInstallationState,
  type TalkdeskAccount,
  type TalkdeskInstallation,
  type TalkdeskInstallationState,
  type TalkdeskToken,
  type TalkdeskUser,
} from './schemas';
export { parseRetryAfter, MAX_RETRY_AFTER_MS } from './responses';
export { alreadyConcluded, type StateCallIntent } from './concluded';
