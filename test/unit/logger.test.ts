import assert from 'node:assert/strict';
import { captureLogger } from '../support/logs';

describe('structured logs', () => {
  it('redact secrets by key at any depth, whatever the caller passes', () => {
    const { logger, lines } = captureLogger();
    const secret = 'sk_live_0123456789abcdef';
    logger.info(
      {
        installationId: 'inst1',
        data: { client_secret: secret, nested: [{ private_key: secret, access_token: secret }] },
        headers: { Authorization: `Bearer ${secret}` },
        err: Object.assign(new Error('boom'), { config: { headers: { authorization: secret } } }),
      },
      'something happened',
    );
    assert.equal(lines.length, 1);
    assert.ok(!lines[0]!.includes(secret), lines[0]);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal((line.data as { client_secret: string }).client_secret, '[redacted]');
    assert.equal((line.err as { message: string }).message, 'boom');
  });

  it('redact secrets by the shape of their name (camelCase, snake_case, headers, env-style), and keep ids visible', () => {
    const { logger, lines } = captureLogger();
    const secret = 'sk_live_fedcba9876543210';
    const secretNames = [
      'refreshToken',
      'idToken',
      'id_token',
      'csrfToken',
      'set-cookie',
      'Set-Cookie',
      'apiKey',
      'api_key',
      'PARTNER_HOOKS_SECRET',
      'SSO_SIGNING_KEYS',
      'TEMPORAL_API_KEY',
      'SECRETS_KEY',
      'webhookSecrets',
      'x-appconnect-signature-v2',
      'x-hub-signature-256',
      'Proxy-Authorization',
      'dbPassword',
      'nonce',
      'sessionId',
      'clientAssertionJwt',
      'csrf',
    ];
    // Names the code logs (docs/operations.md, src/store/reencrypt.ts) or that name no secret.
    const visibleNames = ['keyId', 'kid', 'clientId', 'keyAlgorithm', 'eventId', 'hookId', 'idempotency-key', 'tokens', 'tokenUrl'];
    const visibleMore = ['TALKDESK_ECDSA_PUBLIC_KEYS', 'publicKey', 'legacyInboxCredentials', 'credentialsDeleted', 'signatureSchemes'];
    const fields = Object.fromEntries([...secretNames, ...visibleNames, ...visibleMore].map((k) => [k, secret]));
    logger.info({ nested: { deeper: [fields] }, ...fields }, 'names');
    const line = JSON.parse(lines[0] ?? '{}') as Record<string, unknown> & { nested: { deeper: Record<string, unknown>[] } };
    for (const where of [line, line.nested.deeper[0] ?? {}]) {
      for (const k of secretNames) assert.equal(where[k], '[redacted]', `${k} is redacted`);
      for (const k of [...visibleNames, ...visibleMore]) assert.equal(where[k], secret, `${k} stays visible`);
    }
  });

  it('redact the credentials of a connection string quoted in an error or a field', () => {
    const { logger, lines } = captureLogger();
    const uri = 'mongodb://appuser:s3cr3t-pa55@db.internal:27017/appconnect?authSource=admin';
    logger.error(
      { err: new Error(`connection to ${uri} closed`), target: uri, hooks: ['https://bob:hunter22@partner.example/hooks'] },
      'store failed',
    );
    assert.equal(lines.length, 1);
    for (const secret of ['s3cr3t-pa55', 'appuser', 'hunter22']) assert.ok(!lines[0]!.includes(secret), lines[0]);
    const line = JSON.parse(lines[0]!) as { err: { message: string }; target: string };
    assert.equal(line.err.message, 'connection to mongodb://[redacted]@db.internal:27017/appconnect?authSource=admin closed');
    assert.equal(line.target, 'mongodb://[redacted]@db.internal:27017/appconnect?authSource=admin');
  });

  it("redact a URL's secret parameters (an OAuth code and state, a token) quoted in a message or a field", () => {
    const { logger, lines } = captureLogger();
    const url = 'https://app.example/sso/callback?code=c0de-s3cret&state=st4te-s3cret#access_token=t0ken-s3cret';
    logger.warn({ err: new Error(`GET ${url} failed`), target: `${url}&lang=en` }, 'callback failed');
    for (const secret of ['c0de-s3cret', 'st4te-s3cret', 't0ken-s3cret']) assert.ok(!lines[0]!.includes(secret), lines[0]);
    const line = JSON.parse(lines[0]!) as { err: { message: string }; target: string };
    assert.equal(line.err.message, 'GET https://app.example/sso/callback?code=[redacted]&state=[redacted]#access_token=[redacted] failed');
    assert.match(line.target, /&lang=en$/, 'other parameters kept');
  });

  it('name the installation and its workflow on every line about an installation', () => {
    const { logger, lines } = captureLogger();
    logger.info({ installationId: 'abc123' }, 'one');
    logger.child({ installationId: 'def456' }).warn('two');
    logger.info('unrelated');
    const parsed = lines.map((l) => JSON.parse(l) as { installationId?: string; workflowId?: string; level: string });
    assert.equal(parsed[0]?.workflowId, 'installation-abc123');
    assert.equal(parsed[1]?.installationId, 'def456');
    assert.equal(parsed[1]?.workflowId, 'installation-def456');
    assert.equal(parsed[1]?.level, 'warn');
    assert.equal(parsed[2]?.workflowId, undefined);
  });
});
