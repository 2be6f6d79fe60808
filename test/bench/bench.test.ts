import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBench } from '../../bench/run-bench';

/** `npm run bench` in a tiny configuration, so that it cannot rot. */
describe('bench (tiny configuration: N=20, C=4, K=50)', function () {
  this.timeout(115_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-results-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('measures the three figures beside their references and writes JSON, Markdown and SVG', async () => {
    const { result, files } = await runBench({
      n: 20,
      concurrency: 4,
      scale: 50,
      scaleConcurrency: 8,
      workerProcesses: 1,
      tuning: {},
      resultsDir: dir,
      timeoutMs: 60_000,
      print: false,
    });
    for (const file of [files.json, files.md, files.svg]) assert.ok(existsSync(file), `${file} written`);
    assert.deepEqual(JSON.parse(readFileSync(files.json, 'utf8')), JSON.parse(JSON.stringify(result)));
    assert.match(readFileSync(files.svg, 'utf8'), /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<\/svg>\n$/);
    assert.match(readFileSync(files.md, 'utf8'), /\| Ingest: acks\/s/);

    const positive = (name: string, x: number | undefined) => assert.ok(typeof x === 'number' && Number.isFinite(x) && x > 0, `${name} = ${x}`);
    const { ingest, lifecycle, scale } = result;
    for (const [name, m] of Object.entries({ ingest: ingest.service, bare: ingest.bareSignalWithStart, noop: ingest.noopKoa })) {
      assert.equal(m.ok, 20, `${name}: every request answered`);
      positive(`${name} per second`, m.perSecond);
      positive(`${name} p50`, m.latencyMs.p50);
      positive(`${name} p99`, m.latencyMs.p99);
    }
    positive('ingest ratio', ingest.ratio);
    assert.equal(lifecycle.service.ok, 20, 'every install approved');
    positive('installs per second', lifecycle.service.perSecond);
    positive('median event to approval', lifecycle.service.latencyMs.p50);
    positive('three no-ops per second', lifecycle.reference.perSecond);
    positive('lifecycle ratio', lifecycle.ratio);
    assert.equal(lifecycle.backlog.approved, lifecycle.backlog.installs, 'the queued installs were all approved');
    assert.ok(scale.approved >= 50, `${scale.approved} installations active`);
    assert.ok(scale.openWorkflows >= 50, `${scale.openWorkflows} workflows open`);
    for (const name of ['temporal', 'ferretdb', 'web', 'worker']) {
      positive(`RSS of ${name} at start`, scale.rssMiB.baseline[name]);
      positive(`RSS of ${name} at scale`, scale.rssMiB.atScale[name]);
    }
    if (scale.reconciliation.available) {
      assert.equal(scale.reconciliation.error, undefined);
      positive('reconciliation seconds', scale.reconciliation.seconds);
    }
    assert.ok(result.machine.cores > 0 && result.machine.cpuModel.length > 0);
    assert.ok(result.settings.tuning.maxCachedWorkflows.value > 0);
  });
});
