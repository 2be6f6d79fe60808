/**
 * Finds secrets in large texts (workflow histories, log files) in one pass per text:
 * every secret is looked for in the forms it could take (as is, JSON-escaped, base64,
 * base64url), by a window from its middle (so a truncated copy is found too), with a
 * rolling hash over the text and an exact comparison on each hash hit.
 */
const WINDOW = 24;
const BASE = 257;

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.([A-Za-z0-9_-]{40,})$/;

/** The forms of a secret, each at least 12 characters. */
export function secretForms(secret: string): string[] {
  // A JWT's header and claims are base64url of public JSON (token URL, key id), which a
  // harmless payload can share; its secret part is the signature.
  const jwt = JWT.exec(secret);
  if (jwt?.[1]) return [...new Set([secret, ...secretForms(jwt[1])])];
  const escaped = JSON.stringify(secret).slice(1, -1);
  const forms = new Set([secret, escaped, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url')]);
  return [...forms].filter((f) => f.length >= 12);
}

function hashOf(s: string, from: number, len: number): number {
  let h = 0;
  for (let i = 0; i < len; i += 1) h = (Math.imul(h, BASE) + s.charCodeAt(from + i)) | 0;
  return h;
}

export class SecretScanner {
  /** hash -> windows (with their secret's index) of that hash. */
  private readonly windows = new Map<number, { text: string; secret: number }[]>();
  /** Forms shorter than the window: looked for with indexOf. */
  private readonly short: { text: string; secret: number }[] = [];
  private readonly highPower: number;

  constructor(readonly secrets: readonly string[]) {
    let p = 1;
    for (let i = 0; i < WINDOW - 1; i += 1) p = Math.imul(p, BASE);
    this.highPower = p;
    secrets.forEach((secret, index) => {
      for (const form of secretForms(secret)) {
        if (form.length < WINDOW) {
          this.short.push({ text: form, secret: index });
          continue;
        }
        const start = Math.floor((form.length - WINDOW) / 2);
        const text = form.slice(start, start + WINDOW);
        const h = hashOf(text, 0, WINDOW);
        const list = this.windows.get(h) ?? [];
        list.push({ text, secret: index });
        this.windows.set(h, list);
      }
    });
  }

  /** Indexes (into `secrets`) of the secrets some form of which occurs in `text`. */
  scan(text: string): Set<number> {
    const found = new Set<number>();
    for (const s of this.short) if (text.includes(s.text)) found.add(s.secret);
    if (text.length < WINDOW || this.windows.size === 0) return found;
    let h = hashOf(text, 0, WINDOW);
    for (let pos = 0; ; pos += 1) {
      const hits = this.windows.get(h);
      if (hits) for (const w of hits) if (text.startsWith(w.text, pos)) found.add(w.secret);
      if (pos + WINDOW >= text.length) break;
      h = (Math.imul(h - Math.imul(text.charCodeAt(pos), this.highPower), BASE) + text.charCodeAt(pos + WINDOW)) | 0;
    }
    return found;
  }
}
