import { BSON, type Db } from 'mongodb';

/**
 * Helpers to look for secrets in what the service keeps: workflow histories (whose
 * payloads are bytes), log lines and MongoDB documents (whose Binary fields are bytes).
 */

/**
 * Every string in `value`, with byte arrays decoded as UTF-8 (a payload's JSON) and
 * also given in base64 (as EJSON would show a Binary) unless `bytesAsBase64` is
 * false (a scanner that looks for the base64 forms of each secret itself). JSON.stringify
 * alone would print a payload as a list of numbers and never match a secret.
 */
export function textOf(value: unknown, opts: { bytesAsBase64?: boolean } = {}): string {
  const bytesAsBase64 = opts.bytesAsBase64 ?? true;
  const out: string[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (v === null || v === undefined) return;
    if (typeof v === 'string') {
      out.push(v);
      return;
    }
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') {
      out.push(String(v));
      return;
    }
    if (typeof v !== 'object') return;
    if (seen.has(v)) return;
    seen.add(v);
    if (v instanceof Uint8Array) {
      const bytes = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      out.push(bytes.toString('utf8'));
      if (bytesAsBase64) out.push(bytes.toString('base64'));
      return;
    }
    if (typeof (v as { toNumber?: unknown }).toNumber === 'function' && 'low' in v && 'high' in v) {
      out.push(String((v as unknown as { toNumber(): number }).toNumber())); // protobuf Long
      return;
    }
    if (v instanceof Date) {
      out.push(v.toISOString());
      return;
    }
    for (const [k, child] of Object.entries(v)) {
      out.push(k);
      walk(child);
    }
  };
  walk(value);
  return out.join('\n');
}

/**
 * The forms in which a secret could appear: as is, JSON-escaped (a PEM's newlines
 * become \n in a JSON line), base64 / base64url of its bytes, and a window of up to
 * 32 characters from its middle (a truncated copy).
 */
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.([A-Za-z0-9_-]{40,})$/;

export function secretForms(secret: string): string[] {
  // A JWT's header and claims are base64url of public JSON (token URL, client id): a
  // window from its middle can equal a harmless payload. Its secret part is the signature.
  const jwt = JWT.exec(secret);
  if (jwt?.[1]) return [secret, Buffer.from(secret).toString('base64').slice(4, 64), ...secretForms(jwt[1])];
  const escaped = JSON.stringify(secret).slice(1, -1);
  const forms = new Set([secret, escaped, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url')]);
  for (const s of [secret, escaped]) {
    if (s.length >= 32) {
      const width = Math.min(32, Math.floor(s.length * 0.6));
      const start = Math.floor((s.length - width) / 2);
      forms.add(s.slice(start, start + width));
    }
  }
  return [...forms].filter((f) => f.length >= 12);
}

/** The secrets (by index, never quoted) of which some form occurs in `text`. */
export function leakedSecrets(text: string, secrets: readonly string[]): { index: number; form: number; at: number }[] {
  const found: { index: number; form: number; at: number }[] = [];
  secrets.forEach((secret, index) => {
    secretForms(secret).forEach((f, form) => {
      const at = text.indexOf(f);
      if (at >= 0) found.push({ index, form, at });
    });
  });
  return found;
}

/** Every document of every collection of `db`, as canonical EJSON text (Binary as base64), plus its decoded strings. */
export async function dumpDatabase(db: Db): Promise<{ text: string; collections: Record<string, number> }> {
  const collections: Record<string, number> = {};
  const parts: string[] = [];
  for (const info of await db.listCollections({}, { nameOnly: true }).toArray()) {
    const docs = await db.collection(info.name).find({}).toArray();
    collections[info.name] = docs.length;
    for (const doc of docs) parts.push(BSON.EJSON.stringify(doc, { relaxed: false }), textOf(doc));
  }
  return { text: parts.join('\n'), collections };
}
