/**
 * The `nonce` claim of the ID token the code exchange returned, or undefined when it has none
 * or cannot be read. The signature is not checked: Talkdesk documents neither the ID token's
 * claims nor its keys, and it came straight from the token endpoint over TLS on the request
 * we authenticated, so it is as trustworthy as the access token beside it. Identity still
 * comes from /users/me; the nonce only binds the code to the sign-in that asked for it.
 */
export function idTokenNonce(idToken: string): string | undefined {
  const payload = idToken.split('.')[1];
  if (!payload || payload.length > 16_384) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const nonce = claims && typeof claims === 'object' ? (claims as { nonce?: unknown }).nonce : undefined;
    return typeof nonce === 'string' ? nonce : undefined;
  } catch {
    return undefined;
  }
}
