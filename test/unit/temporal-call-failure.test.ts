import assert from 'node:assert/strict';
import { temporalCallFailure } from '../../src/temporal/connect-errors';

/** What a failed hand-over's log line says: the class, the gRPC status (from the error or a cause), the setting to check. */
describe('temporalCallFailure: safe facts of a failed Temporal call', () => {
  const withCode = (name: string, code: number, message = 'server words that are never logged') =>
    Object.assign(new Error(message), { name, code });

  it('names the gRPC status and the setting for refused credentials, a missing namespace, a rate limit, an outage', () => {
    assert.deepEqual(temporalCallFailure(withCode('ServiceError', 16)), {
      error: 'ServiceError',
      grpcStatus: 'UNAUTHENTICATED',
      check: 'TEMPORAL_API_KEY (or the TLS client certificate) and its access to TEMPORAL_NAMESPACE',
    });
    const wrapped = Object.assign(new Error('outer'), { name: 'ServiceError', cause: withCode('Error', 5) });
    assert.equal(temporalCallFailure(wrapped).grpcStatus, 'NOT_FOUND', 'read from the cause');
    assert.match(temporalCallFailure(wrapped).check, /^TEMPORAL_NAMESPACE/);
    assert.match(temporalCallFailure(withCode('ServiceError', 8)).check, /rate limits/);
    assert.deepEqual(temporalCallFailure(withCode('ServiceError', 14)), {
      error: 'ServiceError',
      grpcStatus: 'UNAVAILABLE',
      check: 'TEMPORAL_ADDRESS, and that the Temporal server is up',
    });
  });

  it('a MongoDB error of the same step is not read as a gRPC status, and no message is kept', () => {
    const mongo = withCode('MongoServerSelectionError', 7, 'mongodb://user:pass@host');
    assert.deepEqual(temporalCallFailure(mongo), {
      error: 'MongoServerSelectionError',
      check: 'MONGODB_URI, and that the store is up (the event stays queued)',
    });
    assert.ok(!JSON.stringify(temporalCallFailure(withCode('ServiceError', 13))).includes('never logged'));
    assert.deepEqual(temporalCallFailure('not an error'), {
      error: 'unknown',
      check: 'TEMPORAL_ADDRESS, and that the Temporal server is up',
    });
  });
});
