/**
 * The worker's sticky workflow cache, sized from a memory budget rather than from
 * the V8 heap (the SDK's default, 2,310 workflows on a 4 GiB heap, held 1,194 MiB
 * of RSS with 10,000 open installations).
 *
 * Budget: a worker at most 512 MiB RSS with 10,000 open installations. Measured
 * (bench of 2026-11-21, SDK default cache): 179 MiB for an idle worker with its
 * workflow bundle loaded, 1,194 MiB with 2,310 cached installation workflows,
 * i.e. at most (1,194 - 179) / 2,310 = 0.44 MiB per cached workflow (an upper
 * bound: it also counts what 1,000 installs left on the heap). Leaving 100 MiB
 * for activities, gRPC buffers and garbage between collections, the cache gets
 * (512 - 179 - 100) / 0.44 = 530 workflows: 500. An installation out of the cache
 * replays its history at its next event (a few dozen events: milliseconds of CPU;
 * `npm run bench` reports that latency as "evicted workflow").
 * WORKER_MAX_CACHED_WORKFLOWS overrides it; docs/performance.md has the figures.
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 500;
