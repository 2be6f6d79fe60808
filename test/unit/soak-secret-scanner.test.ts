import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { SecretScanner } from '../../bench/soak/secrets';

/** The soak's "leaks nothing" rests on this scanner finding a secret in every form it could be copied in. */
describe('soak: the secret scanner finds a planted secret in each form', () => {
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const clientSecret = randomBytes(24).toString('base64url');
  const short = 'sk-0123456789ab'; // shorter than the 24-character window: looked for as is
  const jwt = `eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjbGllbnQifQ.${randomBytes(64).toString('base64url')}`;
  const secrets = [pem, clientSecret, short, jwt];
  const scanner = new SecretScanner(secrets);
  const around = (s: string) => `{"level":"info","msg":"something happened","detail":"${s}","n":1}\n`.repeat(3);
  const middle = (s: string, width: number) => s.slice(Math.floor((s.length - width) / 2), Math.floor((s.length + width) / 2));

  const planted: [string, string, number][] = [
    ['a PEM as is', pem, 0],
    ['a PEM JSON-escaped (a log line)', JSON.stringify(pem).slice(1, -1), 0],
    ['a PEM in base64', Buffer.from(pem).toString('base64'), 0],
    ["a truncated middle of a PEM's body", middle(pem, 40), 0],
    ['a client secret as is', clientSecret, 1],
    ['a client secret in base64url', Buffer.from(clientSecret).toString('base64url'), 1],
    ['a short secret as is', short, 2],
    ["a JWT's signature alone", jwt.split('.')[2]!, 3],
  ];
  for (const [what, text, index] of planted) {
    it(`finds ${what}`, () => {
      assert.deepEqual([...scanner.scan(around(text))], [index]);
    });
  }

  it('finds nothing in text without them, nor in the public header of a JWT', () => {
    assert.deepEqual([...scanner.scan(around('nothing secret here, only ordinary words and ids like inst-1234'))], []);
    assert.deepEqual([...scanner.scan(around(jwt.split('.').slice(0, 2).join('.')))], []);
  });

  it('finds a secret at the very start and the very end of a text', () => {
    assert.deepEqual([...scanner.scan(clientSecret)], [1]);
    assert.deepEqual([...scanner.scan(`x${middle(pem, 30)}`)], [0]);
  });
});
