import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EMBEDDED_TEMPORAL_BLANKS } from '../../src/local/servers-only';
import { PROJECT_ROOT } from '../../src/local/tools';

/**
 * scripts/check-image.sh starts the image's web and worker against a dev server of its own: the shell's Temporal
 * settings (a cloud profile, API key, TLS) must not reach them, as npm start blanks them (EMBEDDED_TEMPORAL_BLANKS).
 */
describe("scripts/check-image.sh: the shell's Temporal settings kept from the dev server", () => {
  const script = readFileSync(path.join(PROJECT_ROOT, 'scripts/check-image.sh'), 'utf8');
  const blanked = /for v in ([^;]+); do export "\$v="; done/
    .exec(script.replace(/\\\n\s*/g, ' '))?.[1]
    ?.trim()
    .split(/\s+/);

  it('blanks every variable npm start blanks for its embedded server, and names a profile of the dev server alone', () => {
    assert.deepEqual(blanked?.slice().sort(), [...EMBEDDED_TEMPORAL_BLANKS].sort());
    assert.match(script, /export TEMPORAL_CONFIG_FILE="\$WORK\/temporal-local\.toml"/);
    assert.ok(script.indexOf('TEMPORAL_CONFIG_FILE=') < script.indexOf('dist/src/entry/worker.js'), 'before the worker starts');
    assert.match(script, /for h in \$\(env \| sed -n 's\/\^\\\(TEMPORAL_GRPC_META_/, "and the shell's gRPC headers");
  });
});
