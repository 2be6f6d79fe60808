import { AppError, ConfigError } from '../errors';

const UNAUTHENTICATED = 16;
const PERMISSION_DENIED = 7;
// The worker's native connection reports gRPC codes by their descriptions (tonic's wording), or, in
// the worker's namespace check, by tonic's debug form of the status (`code: PermissionDenied`).
const REFUSED_WORDS =
  /valid authentication credentials|does not have permission|UNAUTHENTICATED|PERMISSION_DENIED|code: (PermissionDenied|Unauthenticated)\b/;

const codeOf = (e: unknown): unknown => (e && typeof e === 'object' ? (e as { code?: unknown }).code : undefined);

/** The error and its causes, at most four deep (the client wraps the gRPC error). */
function* errorChain(err: unknown): Generator<unknown> {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth += 1) yield e;
}

/**
 * Whether Temporal answered and refused this process's credentials (gRPC UNAUTHENTICATED or
 * PERMISSION_DENIED), as opposed to not answering: a wrong or expired TEMPORAL_API_KEY or
 * client certificate, or a key without access to the namespace. Waiting does not fix it.
 */
export function credentialsRefused(err: unknown): boolean {
  for (const e of errorChain(err)) {
    const code = codeOf(e);
    if (code === UNAUTHENTICATED || code === PERMISSION_DENIED) return true;
    if (e instanceof Error && REFUSED_WORDS.test(e.message)) return true;
  }
  return false;
}

/**
 * What a process says when it cannot connect to Temporal: which setting to check, and what
 * to do. A refusal of its credentials is a configuration error (the process exits 2); no
 * answer is an outage or a wrong address.
 */
export function temporalConnectFailure(address: string | undefined, namespace: string, err: unknown): AppError {
  const at = address ?? 'localhost:7233';
  if (credentialsRefused(err)) {
    return new ConfigError(
      `Temporal at ${at} refused this process's credentials for namespace ${namespace} (TEMPORAL_API_KEY, the TLS client ` +
        `certificate, or the TEMPORAL_PROFILE's): check the key is current and has access to that namespace (TEMPORAL_NAMESPACE). ` +
        'See docs/configuration.md.',
    );
  }
  const why = err instanceof Error ? err.message : String(err);
  return new AppError(
    `Temporal at ${at} (TEMPORAL_ADDRESS, or the TEMPORAL_PROFILE's address) cannot be reached: ${why}. ` +
      'Start it or correct the address, then start this process again.',
  );
}

/**
 * For a namespace call's `.catch`: a refusal of the credentials (a key without access to the
 * namespace passes the connect) becomes the same ConfigError as at connect; anything else goes on as it was.
 */
export function rethrowRefused(address: string | undefined, namespace: string): (err: unknown) => never {
  return (err) => {
    throw credentialsRefused(err) ? temporalConnectFailure(address, namespace, err) : err;
  };
}

/** gRPC status names of the codes a Temporal call fails with (the rest are logged by number). */
const GRPC_STATUS: Record<number, string> = {
  1: 'CANCELLED',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  16: 'UNAUTHENTICATED',
};

/**
 * Safe facts of a failed Temporal call, for a log line: the error's class, its gRPC status (from
 * the error or its causes), and which setting to check. Never the message (it is the server's).
 */
export function temporalCallFailure(err: unknown): { error: string; grpcStatus?: string; check: string } {
  const error = err instanceof Error && /^[A-Za-z]{1,40}$/.test(err.name) ? err.name : 'unknown';
  // The same steps also read and write the store: a MongoDB error's numeric code is not a gRPC status.
  if (error.startsWith('Mongo')) return { error, check: 'MONGODB_URI, and that the store is up (the event stays queued)' };
  const code = [...errorChain(err)].map(codeOf).find((c): c is number => typeof c === 'number');
  const grpcStatus = code === undefined ? undefined : (GRPC_STATUS[code] ?? String(code));
  const check = credentialsRefused(err)
    ? 'TEMPORAL_API_KEY (or the TLS client certificate) and its access to TEMPORAL_NAMESPACE'
    : code === 5
      ? 'TEMPORAL_NAMESPACE: does that namespace exist on this server (npm run setup:temporal)?'
      : code === 8
        ? "the namespace's rate limits at Temporal (requests per second)"
        : 'TEMPORAL_ADDRESS, and that the Temporal server is up';
  return { error, ...(grpcStatus ? { grpcStatus } : {}), check };
}
