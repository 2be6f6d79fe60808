import { z } from 'zod';

/**
 * Field schemas shared by the event definitions. Every string field is a plain,
 * bounded `z.string()`, so an object such as `{"$ne": null}` can never stand in
 * for an id and reach a MongoDB query. Messages never repeat the input: the
 * offending value might be a secret.
 */

/** A Talkdesk id (installation, account, user, event): the launch takes the same ids the events do. */
export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
// Cc covers C0 controls, DEL and C1 controls.
const NO_CONTROL = /^[^\p{Cc}]*$/u;
const NO_CONTROL_EXCEPT_WHITESPACE = /^[\t\n\r\P{Cc}]*$/u;

export const MAX_NAME_LENGTH = 256;
export const MAX_TEXT_LENGTH = 2048;
export const MAX_SECRET_LENGTH = 16 * 1024;
export const MAX_URL_LENGTH = 2048;
export const MAX_LIST_LENGTH = 10_000;
export const MAX_LINKS = 32;

/** Event, app, installation, account, client and key ids. */
export const id = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(ID_PATTERN, 'must contain only letters, digits and . _ : -');

/** Human-readable names (account name, app version name): bounded, single line. */
export const name = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_NAME_LENGTH, `must be at most ${MAX_NAME_LENGTH} characters`)
  .regex(NO_CONTROL, 'must not contain control characters');

/**
 * Free text such as an uninstall reason's message: it decides nothing, so a long one is cut at MAX_TEXT_LENGTH
 * characters (code points: never half a pair) rather than refused, which would lose the whole event on every delivery.
 * Control characters other than whitespace are refused, as anywhere in a callback's body (findUnsafeJson).
 */
export const text = z
  .string()
  .regex(NO_CONTROL_EXCEPT_WHITESPACE, 'must not contain control characters')
  .transform((s) => (s.length > MAX_TEXT_LENGTH ? Array.from(s).slice(0, MAX_TEXT_LENGTH).join('') : s));

/**
 * An optional field sent as `null` is taken as absent: the reference shows no nulls, but a producer that writes absent
 * fields as null would otherwise have the event refused on every delivery.
 */
export const nullIsAbsent = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === null ? undefined : v), schema.optional());

/** Credentials material (client secret, keys): opaque, but bounded. */
export const secret = z.string().min(1, 'must not be empty').max(MAX_SECRET_LENGTH, `must be at most ${MAX_SECRET_LENGTH} characters`);

/** ISO 8601 with seconds and an explicit zone (Z or ±hh:mm), as Talkdesk sends. */
export const timestamp = z.iso.datetime({
  offset: true,
  message: 'must be an ISO 8601 date-time with a zone, e.g. 2016-06-14T16:23:07Z',
});

export const KEY_ALGORITHM_VALUES = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'] as const;
export const keyAlgorithm = z.enum(KEY_ALGORITHM_VALUES, {
  message: `must be one of ${KEY_ALGORITHM_VALUES.join(', ')}`,
});

export const idList = z.array(id).max(MAX_LIST_LENGTH, `must hold at most ${MAX_LIST_LENGTH} ids`);

/** One `_links` entry. Only http(s): an href is later fetched (after the host allow-list). */
export const link = z.object({
  href: z
    .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
    .max(MAX_URL_LENGTH, `must be at most ${MAX_URL_LENGTH} characters`),
});

const LINK_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/**
 * `_links` with the named entries required and the rest optional. Unlisted names are
 * accepted (Talkdesk may add links) but must look like names: no `$` or `.`, which
 * MongoDB would read as operators or paths if the event is stored as a document.
 */
export function links<R extends string, O extends string>(required: readonly R[], optional: readonly O[]) {
  const shape: Record<string, z.ZodType<{ href: string } | undefined>> = {};
  for (const key of optional) shape[key] = link.optional();
  for (const key of required) shape[key] = link;
  return z
    .object(shape as { [K in R]: typeof link } & { [K in O]: z.ZodOptional<typeof link> })
    .catchall(link)
    .superRefine((value, ctx) => {
      const keys = Object.keys(value);
      if (keys.length > MAX_LINKS) ctx.addIssue({ code: 'custom', message: `must hold at most ${MAX_LINKS} links` });
      for (const key of keys) {
        if (!LINK_NAME.test(key)) {
          ctx.addIssue({ code: 'custom', path: [key], message: 'link name must be letters, digits, _ or -' });
        }
      }
    });
}

/**
 * A field's path as an error names it: each key cut to 40 characters, so that a refusal never
 * echoes a long key the request made up (a `$` key of 3,000 characters).
 */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((k) => (String(k).length > 40 ? `${String(k).slice(0, 40)}…` : String(k))).join('.') || '(root)';
}
