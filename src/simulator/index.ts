/** The Talkdesk simulator: see server.ts for the Simulator interface. */
export { startSimulator, type Simulator } from './server';
export { generateInstallationKeys, privateKeyPem, type InstallationKeys } from './keys';
export { signBody, type DeliverOptions } from './delivery';
export { ASSERTION_TYPE, GRANT_TYPE, MAX_ASSERTION_LIFETIME_SECONDS } from './oauth';
export { DEFAULT_PER_PAGE, MAX_PER_PAGE } from './api';
export { CODE_TTL_MS } from './sso';
export { DEFAULT_UNINSTALL_REASON, type CreateInstallationOptions, type RotateOptions, type UpdateInstallationChange } from './lifecycle';
export * from './types';
