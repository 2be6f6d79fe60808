/**
 * The worker's sticky workflow cache, sized from a memory budget rather than from
 * the V8 heap (the SDK's default, 2,310 workflows on a 4 GiB heap, held 1,194 MiB
 * of RSS with 10,000 open installations).
 *
 * Budget: one worker at most 512 MiB RSS with 10,000 open installations.
 * - An idle worker, workflow bundle loaded: 180 MiB.
 * - A cached installation workflow: 0.44 MiB (two quick benches on 2026-12-02, 100
 *   open workflows: worker 265 MiB with all of them cached, 222 MiB with a cache of 2;
 *   the run of 2026-11-21 gives the same, (1,194 - 180) / 2,310 cached).
 * - Everything else the worker grows by (installs' garbage, gRPC buffers, GC timing):
 *   150 MiB reserved (43 MiB measured with the cache at 2).
 * So (512 - 180 - 150) / 0.44 = 413 workflows: 400. That is ten times the workflow
 * tasks a worker runs at once (SDK default 40, which must not exceed the cache), so an
 * install in progress stays cached between its tasks; an idle installation out of the
 * cache replays its short history at its next event (`npm run bench`: "evicted workflow").
 * WORKER_MAX_CACHED_WORKFLOWS overrides it (docs/performance.md#worker-memory).
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 400;
