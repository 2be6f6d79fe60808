import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type { IncomingHttpHeaders } from 'node:http';
import { doc } from './docs';

/** docs/partner.md's hook checks, in JavaScript and in Python, run as written on one hook. */
export function docRecipes(
  rawText: string,
  headers: IncomingHttpHeaders,
  secrets: string[],
  nowSeconds = Math.floor(Date.now() / 1000),
): { js: boolean; python: boolean } {
  const raw = Buffer.from(rawText, 'utf8');
  const page = doc('partner.md');
  const js = /```js\n([\s\S]*?)```/.exec(page)?.[1];
  const py = /```python\n([\s\S]*?)```/.exec(page)?.[1];
  assert.ok(js && py, 'docs/partner.md has both recipes');
  const verifyHook = new Function('require', `${js}; return verifyHook;`)(createRequire(__filename)) as (
    body: Buffer,
    headers: IncomingHttpHeaders,
    secrets: string[],
    nowSeconds: number,
  ) => boolean;
  const script = `${py}\nimport json, sys\na = json.load(sys.stdin)\nprint(json.dumps(verify_hook(bytes.fromhex(a["raw"]), a["headers"], a["secrets"], a["now"])))`;
  const ran = spawnSync('python3', ['-c', script], {
    input: JSON.stringify({ raw: raw.toString('hex'), headers, secrets, now: nowSeconds }),
    encoding: 'utf8',
  });
  assert.equal(ran.status, 0, ran.stderr);
  return { js: verifyHook(raw, headers, secrets, nowSeconds), python: JSON.parse(ran.stdout) as boolean };
}
