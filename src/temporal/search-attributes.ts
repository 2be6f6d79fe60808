import type { Connection } from '@temporalio/client';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

/** temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD */
const KEYWORD = 2;

function grpcCode(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number' ? err.code : undefined;
}

/**
 * Registers the project's search attributes on a namespace, idempotently: those
 * already present are left alone. `npm start` gets them from the dev server's
 * flags; any other cluster gets them from `npm run setup:temporal`.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  let types: Record<string, unknown> = {};
  try {
    types = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  } catch (err) {
    // The time-skipping test server implements add but not list (12 = UNIMPLEMENTED).
    if (grpcCode(err) !== 12) throw err;
  }
  // Registered by hand with another type (Text, say), exact-match filters such as InstallationPhase='installing' misbehave.
  const { missing, notKeyword } = problemsIn(types);
  if (notKeyword.length > 0) {
    throw new Error(
      `search attribute(s) ${notKeyword.join(', ')} exist on namespace ${namespace} with a type other than Keyword: remove them ` +
        '(temporal operator search-attribute remove) and run this again, so that they are registered as Keyword',
    );
  }
  if (missing.length === 0) return [];
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((name) => [name, KEYWORD])),
    });
  } catch (err) {
    if (grpcCode(err) !== 6) throw err; // 6 = ALREADY_EXISTS: another process registered them first
  }
  return missing;
}

/** The project's search attributes absent from a namespace's custom attributes (name → type), and those not Keyword. */
function problemsIn(types: Record<string, unknown>): { missing: string[]; notKeyword: string[] } {
  return {
    missing: ALL_SEARCH_ATTRIBUTES.filter((k) => !(k.name in types)).map((k) => k.name),
    notKeyword: ALL_SEARCH_ATTRIBUTES.filter((k) => k.name in types && Number(types[k.name]) !== KEYWORD).map((k) => k.name),
  };
}

/**
 * The project's search attributes the namespace lacks, and those registered with a type other than Keyword (by hand:
 * Int or Bool makes every upsert of a string fail, Text breaks exact-match filters); read only. Undefined when they
 * cannot be listed (a key without operator access, the time-skipping test server).
 */
export async function searchAttributeProblems(
  connection: Pick<Connection, 'operatorService'>,
  namespace: string,
): Promise<{ missing: string[]; notKeyword: string[] } | undefined> {
  let types: Record<string, unknown>;
  try {
    types = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  } catch {
    return undefined;
  }
  return problemsIn(types);
}

/** The project's search attributes the namespace lacks (read only); undefined when they cannot be listed. */
export async function missingSearchAttributes(
  connection: Pick<Connection, 'operatorService'>,
  namespace: string,
): Promise<string[] | undefined> {
  return (await searchAttributeProblems(connection, namespace))?.missing;
}
