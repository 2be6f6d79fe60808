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

/**
 * Each V8 heap of the worker process (its own and its workflow thread's) is capped at this many MiB by its start
 * command (`node --max-old-space-size=256 dist/src/entry/worker.js`: package.json `start:worker`, docker-compose.yml,
 * the Dockerfile's worker command, the bench and the tests' worker processes). Uncapped, V8 on a machine with GiBs free
 * collects lazily: with 10,000 open installations the worker held 534 to 573 MiB of RSS two seconds after 9,000
 * workflows had passed through the cache (2026-12-06), of which the live heaps were about 75 MiB (main) and 55 MiB
 * (workflow thread, 400 cached); capped, 395 MiB (docs/performance.md#worker-memory). Applies to isolates, so one flag
 * covers both; a command-line flag, since V8 fixes a heap's limit when it is created.
 */
export const WORKER_HEAP_LIMIT_MB = 256;
/** The start command's V8 flag (above). */
export const WORKER_HEAP_FLAG = `--max-old-space-size=${WORKER_HEAP_LIMIT_MB}`;

/**
 * Heap a cache of `cached` workflows needs in the workflow thread, with room for what passes through it: its bundle and
 * V8 context (about 20 MiB live) plus, per cached workflow, the 0.44 MiB of RSS the budget above measured (live state is
 * less, about 0.1 MiB; the rest is garbage of its activations). An upper bound, for the warning below.
 */
export const heapNeededMb = (cached: number): number => Math.ceil(64 + 0.44 * cached);

/**
 * A warning when the process's heap limit (V8's, in MiB) is short of what the cache needs: a cache raised without the
 * heap (WORKER_MAX_CACHED_WORKFLOWS above about 400 with the start command's 256) makes V8 collect ever more often, and
 * past the live size the worker dies out of memory. Undefined when it fits.
 */
export function heapShortWarning(cached: number, limitMb: number): string | undefined {
  const needed = heapNeededMb(cached);
  if (needed <= limitMb) return undefined;
  return (
    `WORKER_MAX_CACHED_WORKFLOWS=${cached} needs about ${needed} MiB of V8 heap, and this process's limit is ${Math.round(limitMb)} MiB: ` +
    `start the worker with node --max-old-space-size=${needed} (or more), or lower the cache (docs/performance.md#worker-memory).`
  );
}

/**
 * A warning when NODE_OPTIONS sets a heap limit the start command's flag overrides (Node applies command-line flags
 * after NODE_OPTIONS): a heap raised there would silently be 256 MiB. Undefined when they agree or one is absent.
 */
export function heapFlagOverriddenWarning(nodeOptions: string | undefined, execArgv: readonly string[]): string | undefined {
  const wanted = /--max-old-space-size=(\d+)/.exec(nodeOptions ?? '')?.[1];
  const given = execArgv.filter((a) => a.startsWith('--max-old-space-size=')).at(-1);
  if (wanted === undefined || given === undefined || given === `--max-old-space-size=${wanted}`) return undefined;
  return (
    `NODE_OPTIONS sets --max-old-space-size=${wanted}, but the worker's start command sets ${given}, which wins: ` +
    `set the heap limit in the start command (docs/performance.md#worker-memory).`
  );
}
