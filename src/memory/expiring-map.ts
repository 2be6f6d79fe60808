/**
 * A map whose entries go after a time limit, at most `max` of them (the oldest first), for what a process keeps of
 * decrypted secrets (a credential set, a parsed private key): an entry that is never looked up again is dropped by a
 * timer (unref'd: it never keeps the process alive) at its expiry, not kept until the next use or the process's end.
 * Every entry has the same time limit, so the map's order is its expiry order and a sweep stops at the first live one.
 */
export class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** `renewOnGet`: a hit counts as a new use (kept `ttlMs` from it); else an entry lives `ttlMs` from its `set`. */
  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
    private readonly renewOnGet = false,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, now = Date.now()): V | undefined {
    this.sweep(now);
    const entry = this.entries.get(key);
    // Checked on its own too: the sweep trusts the map's order, which a clock stepping back can break.
    if (!entry || entry.until <= now) return undefined;
    if (this.renewOnGet) {
      this.entries.delete(key);
      this.entries.set(key, { value: entry.value, until: now + this.ttlMs });
    }
    return entry.value;
  }

  set(key: string, value: V, now = Date.now()): void {
    this.entries.delete(key);
    this.entries.set(key, { value, until: now + this.ttlMs });
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
    this.schedule();
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Drops what has expired by `now`. */
  sweep(now = Date.now()): void {
    for (const [key, entry] of this.entries) {
      if (entry.until > now) break;
      this.entries.delete(key);
    }
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    const first = this.entries.values().next().value;
    if (!first) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.sweep();
        this.schedule();
      },
      Math.max(first.until - Date.now(), 0) + 10,
    );
    this.timer.unref();
  }
}
