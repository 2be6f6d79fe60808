/** The bench's only activity: does nothing, so what is measured is Temporal and the worker. */
export async function noop(): Promise<void> {
  // nothing
}
