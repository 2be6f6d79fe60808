import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PROJECT_ROOT } from '../../src/local/tools';

/**
 * `npm audit --omit=dev`: no high or critical vulnerability in what production
 * installs. The audit needs the registry's advisory endpoint; when it cannot be
 * reached (offline, or a mirror that does not serve it) the test is reported as
 * pending with the reason, and it fails only when the audit ran and found
 * something at high or critical level.
 */

interface AuditReport {
  metadata?: { vulnerabilities?: Record<string, number>; dependencies?: { prod?: number; total?: number } };
  vulnerabilities?: Record<string, { severity?: string; via?: unknown[]; fixAvailable?: unknown }>;
  error?: { code?: string; summary?: string; detail?: string };
  message?: string;
  statusCode?: number;
}

/** High and critical findings of an `npm audit --json` report, or undefined when the audit did not run. */
function seriousFindings(report: AuditReport | undefined): string[] | undefined {
  if (report?.metadata?.vulnerabilities === undefined) return undefined;
  const named = Object.entries(report.vulnerabilities ?? {})
    .filter(([, v]) => v.severity === 'high' || v.severity === 'critical')
    .map(([name, v]) => `${name} (${String(v.severity)})`);
  const counts = report.metadata.vulnerabilities;
  const counted = (counts.high ?? 0) + (counts.critical ?? 0);
  return named.length > 0 || counted === 0 ? named : [`${counted} high/critical (${JSON.stringify(counts)})`];
}

describe('npm audit --omit=dev', function () {
  this.timeout(120_000);

  it('reports no high or critical vulnerability in production dependencies', function () {
    const run = spawnSync('npm', ['audit', '--omit=dev', '--audit-level=high', '--json'], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      timeout: 90_000,
      env: { ...process.env, npm_config_fund: 'false', npm_config_update_notifier: 'false' },
    });
    let report: AuditReport | undefined;
    try {
      report = JSON.parse(run.stdout) as AuditReport;
    } catch {
      report = undefined;
    }
    const serious = seriousFindings(report);
    if (serious === undefined) {
      const why =
        run.error?.message ??
        report?.message ??
        report?.error?.summary ??
        (run.stderr.split('\n').find((l) => /npm (error|warn) audit/.test(l)) || `exit ${run.status}, no audit report`);
      console.warn(
        `      npm audit did not run: ${why.slice(0, 300)}. The audit endpoint is unreachable from here; run \`npm audit --omit=dev\` where it is.`,
      );
      this.skip();
    }
    assert.deepEqual(serious, [], `high/critical vulnerabilities in production dependencies: ${serious.join(', ')}`);
  });

  it('reads an audit report: fails on high or critical, passes on lower, tells a failed audit apart', () => {
    const meta = (high: number, critical: number, moderate = 0) => ({
      vulnerabilities: { info: 0, low: 0, moderate, high, critical, total: high + critical + moderate },
    });
    assert.deepEqual(seriousFindings({ metadata: meta(1, 0), vulnerabilities: { axios: { severity: 'high' } } }), ['axios (high)']);
    assert.deepEqual(seriousFindings({ metadata: meta(0, 1), vulnerabilities: { x: { severity: 'critical' } } }), ['x (critical)']);
    assert.deepEqual(seriousFindings({ metadata: meta(0, 0, 2), vulnerabilities: { y: { severity: 'moderate' } } }), []);
    assert.deepEqual(seriousFindings({ metadata: meta(0, 0) }), []);
    assert.equal(seriousFindings({ message: '405 Method Not Allowed', statusCode: 405 }), undefined);
    assert.equal(seriousFindings(undefined), undefined);
  });
});
