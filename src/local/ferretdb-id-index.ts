import { execFile } from 'node:child_process';

/**
 * FerretDB 1.24's SQLite backend indexes `_id` as `_ferretdb_sjson->"_id"` but its
 * queries filter on `_ferretdb_sjson->'$._id'`, an expression SQLite does not match
 * to that index: every `{_id}` find, update and delete scans the whole table, so
 * each one costs more as the collection grows. This adds, to every collection table
 * of the embedded store, an index on the expression the queries use. FerretDB does
 * not list it (it is not in its metadata), SQLite keeps it up to date, and dropping
 * the collection drops it. Needs `python3` (already needed by `npm run setup`) for
 * its sqlite3 module, built with SQLite 3.38 or later (the `->` operator); Node 20 has none.
 */
const SCRIPT = String.raw`
import glob, os, sqlite3, sys
if sqlite3.sqlite_version_info < (3, 38, 0):
    sys.stderr.write("python3's SQLite %s lacks the -> operator the index needs (3.38 or later)" % sqlite3.sqlite_version)
    sys.exit(2)
created = 0
for path in sorted(glob.glob(os.path.join(sys.argv[1], '*.sqlite'))):
    try:
        db = sqlite3.connect(path, timeout=10)
        try:
            tables = [r[0] for r in db.execute('SELECT table_name FROM _ferretdb_collections')]
            have = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
            for table in tables:
                name = table + '__id_path_appconnect'
                if name in have:
                    continue
                db.execute('CREATE INDEX IF NOT EXISTS "%s" ON "%s" (_ferretdb_sjson->\'$._id\')' % (name, table))
                created += 1
            db.commit()
        finally:
            db.close()
    except sqlite3.Error:
        pass  # a database being created or dropped: the next round takes it
print(created)
`;

/** Adds the missing `_id` path indexes in every database file of `dataDir`; returns how many it created. */
export function addIdPathIndexes(dataDir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', SCRIPT, dataDir], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`python3 could not add the _id path indexes: ${stderr.trim() || err.message}`));
      resolve(Number.parseInt(stdout.trim(), 10) || 0);
    });
  });
}

/**
 * Keeps the indexes in place while FerretDB runs: collections appear when the
 * service first writes to them. A failure (no python3) is reported once and the
 * store keeps working, only slower.
 */
export function maintainIdPathIndexes(dataDir: string, onError: (err: Error) => void, everyMs = 30_000): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const round = () => {
    running = addIdPathIndexes(dataDir).then(
      () => {
        if (!stopped) timer = setTimeout(round, everyMs).unref();
      },
      (err: Error) => onError(err),
    );
  };
  timer = setTimeout(round, 1_000);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
