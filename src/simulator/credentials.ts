import type { ClientRecord } from './state';
import type { Credentials } from './types';

/** The credential block of app.installed / app.credentials_rotated for one client. */
export function credentialsOf(client: ClientRecord): Credentials {
  return {
    client_id: client.clientId,
    client_secret: client.clientSecret,
    private_key: client.keys.private_key,
    public_key: client.keys.public_key,
    key_id: client.keys.key_id,
    key_algorithm: client.keys.key_algorithm,
  };
}
