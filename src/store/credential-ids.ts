/** `%` and `:` escaped, so the one bare `:` of an id separates the two parts. */
export const escapeIdPart = (part: string) => part.replace(/%/g, '%25').replace(/:/g, '%3A');

/**
 * The `_id` of a credential set and of its token record. Both ids may contain `:`, so
 * the plain `${installationId}:${clientId}` of earlier versions could collide between
 * installations ("a:b"+"c" and "a"+"b:c"); escaped, it cannot. Ids without `%` or `:`
 * (all real ones seen so far) keep the id they had.
 */
export function credentialId(installationId: string, clientId: string): string {
  return `${escapeIdPart(installationId)}:${escapeIdPart(clientId)}`;
}

/** The `_id` earlier versions used; records still under it are moved by `npm run reencrypt`. */
export function legacyCredentialId(installationId: string, clientId: string): string {
  return `${installationId}:${clientId}`;
}
