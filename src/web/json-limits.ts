import { fieldPath } from '../events/fields';

/**
 * Limits on the shape of a callback body, checked before anything builds or
 * walks it: nesting depth and the number of keys of one object or items of one
 * array. The scan reads the raw bytes once, keeps one counter per open container
 * (at most `maxDepth` of them) and stops at the first excess, so a hostile body
 * costs no more than its size, and no parser or validator downstream ever sees
 * a structure deeper or wider than these limits.
 */
export interface JsonLimits {
  /** Deepest nesting of objects and arrays (the event itself is depth 1). */
  maxDepth: number;
  /** Most keys in one object. */
  maxKeys: number;
  /** Most items in one array (app.updated user lists hold at most 10,000 ids). */
  maxArrayItems: number;
}

export const DEFAULT_JSON_LIMITS: JsonLimits = { maxDepth: 32, maxKeys: 1_000, maxArrayItems: 10_000 };

export type JsonShapeProblem = { kind: 'depth'; limit: number } | { kind: 'keys'; limit: number } | { kind: 'items'; limit: number };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/**
 * The first limit `raw` exceeds, or undefined. It does not validate JSON (JSON.parse
 * does that next); on malformed input it still ends, in one pass, without throwing.
 */
export function checkJsonShape(raw: Buffer, limits: JsonLimits = DEFAULT_JSON_LIMITS): JsonShapeProblem | undefined {
  // One entry per open container: is it an object, and how many commas so far.
  const isObject: boolean[] = [];
  const commas: number[] = [];
  let inString = false;
  let escaped = false;
  for (let i = 0; i < raw.length; i += 1) {
    const b = raw[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (b === BACKSLASH) escaped = true;
      else if (b === QUOTE) inString = false;
      continue;
    }
    switch (b) {
      case QUOTE:
        inString = true;
        break;
      case OPEN_OBJECT:
      case OPEN_ARRAY:
        if (isObject.length >= limits.maxDepth) return { kind: 'depth', limit: limits.maxDepth };
        isObject.push(b === OPEN_OBJECT);
        commas.push(0);
        break;
      case CLOSE_OBJECT:
      case CLOSE_ARRAY:
        isObject.pop();
        commas.pop();
        break;
      case COMMA: {
        const top = commas.length - 1;
        if (top < 0) break;
        const count = (commas[top] ?? 0) + 1;
        commas[top] = count;
        // n commas separate n + 1 members.
        if (isObject[top] && count + 1 > limits.maxKeys) return { kind: 'keys', limit: limits.maxKeys };
        if (!isObject[top] && count + 1 > limits.maxArrayItems) return { kind: 'items', limit: limits.maxArrayItems };
        break;
      }
      default:
        break;
    }
  }
  return undefined;
}

export function describeShapeProblem(problem: JsonShapeProblem): string {
  switch (problem.kind) {
    case 'depth':
      return `The JSON nests deeper than ${problem.limit} levels.`;
    case 'keys':
      return `A JSON object holds more than ${problem.limit} keys.`;
    case 'items':
      return `A JSON array holds more than ${problem.limit} items.`;
  }
}

// Cc covers C0 controls, DEL and C1 controls; tab, line feed and carriage return
// appear in PEM keys and free text.
const CONTROL = /[\p{Cc}]/u;
const ALLOWED_CONTROL = /[\t\n\r]/g;

/**
 * After JSON.parse (so within the limits above): the first key or string that no
 * lifecycle event field may hold, with its path in parseEvent's dotted form.
 * Object keys starting with `$` (MongoDB operators) are refused wherever they
 * appear, and so are control characters other than tab, CR and LF in any key or
 * string, including the opaque credential fields. Messages never quote the value.
 */
export function findUnsafeJson(value: unknown, path: (string | number)[] = []): { field: string; message: string } | undefined {
  const field = () => fieldPath(path);
  if (typeof value === 'string') {
    return CONTROL.test(value.replace(ALLOWED_CONTROL, ''))
      ? { field: field(), message: 'must not contain control characters' }
      : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) {
      const found = findUnsafeJson(value[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const at = [...path, key];
      if (key.startsWith('$')) return { field: fieldPath(at), message: 'keys starting with $ are not accepted' };
      if (CONTROL.test(key)) return { field: fieldPath(path), message: 'keys must not contain control characters' };
      const found = findUnsafeJson(child, at);
      if (found) return found;
    }
  }
  return undefined;
}
