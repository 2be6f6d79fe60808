/**
 * Work the callback does after it has answered (the hand-over's mark), kept so that the
 * server waits for it when it closes. Each piece handles its own failure: none rejects.
 */
export class AfterAnswer {
  private readonly pending = new Set<Promise<void>>();

  readonly track = (work: Promise<void>): void => {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  };

  /** Pieces still running. */
  get size(): number {
    return this.pending.size;
  }

  /** Waits for every piece started so far (and those they start meanwhile). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
