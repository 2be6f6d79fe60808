export * from './provisioner';
export { PartnerRefusedError, PartnerUnavailableError, sanitiseReason } from './errors';
export { callKey, pageKey, HOOK_TYPES, type HookType } from './keys';
export {
  HOOK_TIMESTAMP_TOLERANCE_SECONDS,
  IDEMPOTENCY_HEADER,
  SIGNATURE_HEADER,
  signHook,
  signHookTimed,
  TIMED_SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifyHookSignature,
  verifyTimedHook,
} from './signature';
export { MongoProvisioner } from './mongodb';
export { HttpProvisioner, type HookBody, type HttpProvisionerOptions } from './http';
export { PartnerCallStore, type PartnerCallRecord } from './calls-store';
export { provisionerFromEnv } from './from-env';
export { forwardUserLogout, LogoutForwarder, LOGOUT_FORWARD_TIMING, type LogoutForwardOutcome } from './logout';
export { PendingLogoutStore, type PendingLogout } from './logout-forwards';
