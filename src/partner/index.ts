export * from './provisioner';
export { PartnerRefusedError, PartnerUnavailableError, sanitiseReason } from './errors';
export { callKey, pageKey, HOOK_TYPES, type HookType } from './keys';
export { SIGNATURE_HEADER, signHook, verifyHookSignature } from './signature';
export { MongoProvisioner } from './mongodb';
export { HttpProvisioner, type HookBody, type HttpProvisionerOptions } from './http';
export { PartnerCallStore, type PartnerCallRecord } from './calls-store';
export { provisionerFromEnv } from './from-env';
export { forwardUserLogout } from './logout';
