import type { EncryptedBlob } from '../crypto/secrets';
import type { KeyAlgorithm } from '../../workflows/definitions';

/** The documents of the credential store (credentials.ts): sets, cached tokens, their index and close counts. */

export type CredentialStatus = 'pending' | 'active' | 'retiring' | 'destroyed';

/** The secret half of a credential set; only ever held decrypted in memory. */
export interface CredentialSecret {
  clientSecret: string;
  privateKey: string;
  publicKey: string;
}

export interface CredentialRecord {
  _id: string; // credentialId(installationId, clientId)
  installationId: string;
  clientId: string;
  keyId: string;
  keyAlgorithm: KeyAlgorithm;
  tokenUrl: string;
  status: CredentialStatus;
  secret?: EncryptedBlob; // removed (not only marked) when destroyed
  sourceEventId: string;
  issuedAt?: Date; // that event's created_at (older versions: absent)
  createdAt: Date;
  activatedAt?: Date;
  retireAt?: Date;
  destroyedAt?: Date;
}

export interface UsableCredentials {
  installationId: string;
  clientId: string;
  keyId: string;
  keyAlgorithm: KeyAlgorithm;
  tokenUrl: string;
  secret: CredentialSecret;
  importedAt?: Date; // its record written: a client's new scopes can answer 401 for a few minutes
  issuedAt?: Date; // its event's created_at, when Talkdesk made the client
}

export interface TokenRecord {
  _id: string;
  installationId: string;
  clientId: string;
  token: EncryptedBlob;
  scope: string;
  expiresAt: Date;
}

/** The index of an installation's credential sets (`credential_sets`): its client ids, read by `_id`. */
export interface CredentialSetsRecord {
  _id: string; // installation id
  clientIds: string[];
  updatedAt: Date;
}

/**
 * How many times an installation's sets were all destroyed (`credential_closes`). Its own document, not the
 * index's: on FerretDB an update rewrites the whole document, so an import's write of the index could undo it.
 */
export interface CredentialClosesRecord {
  _id: string; // installation id
  closes: number;
  closedAt: Date;
  /** What the last close spared (`destroyAll`'s `kept`); absent in records older versions wrote. */
  kept?: { except: string[]; keepNewerThan: Date | null };
}
