import assert from 'node:assert/strict';
import { assertAllowedUrl, parseAllowList } from '../../src/talkdesk/allowlist';
import { publicOnlyLookup, type LookupAddress } from '../../src/talkdesk/dns-guard';
import { DisallowedHostError } from '../../src/talkdesk/errors';
import { DISALLOWED_ADDRESS_CODE } from '../../src/talkdesk/responses';
import { ConfigError } from '../../src/errors';

const LIST = ['api.talkdeskapp.com', '*.talkdeskid.com', '127.0.0.1:4010', 'localhost:4011', '10.1.2.3', '[::1]:4012'];

function allowed(url: string, list: string[] = LIST): boolean {
  try {
    assertAllowedUrl(url, list);
    return true;
  } catch (err) {
    assert.ok(err instanceof DisallowedHostError, `unexpected ${String(err)}`);
    return false;
  }
}

describe('talkdesk/allowlist', () => {
  it('accepts exact hosts and returns the parsed URL', () => {
    const url = assertAllowedUrl('https://API.talkdeskapp.com/apps/x?y=1', LIST);
    assert.equal(url.hostname, 'api.talkdeskapp.com');
    assert.equal(url.pathname, '/apps/x');
    assert.ok(allowed('https://api.talkdeskapp.com:443/account'));
  });

  it('refuses hosts that merely resemble an entry', () => {
    for (const url of [
      'https://api.talkdeskapp.com.evil.com/',
      'https://evilapi.talkdeskapp.com/',
      'https://api.talkdeskapp.com./',
      'https://talkdeskapp.com/',
      'https://api.talkdeskapp.eu/',
    ]) {
      assert.equal(allowed(url), false, url);
    }
  });

  it('matches wildcards on one or more labels, never the bare domain or a look-alike', () => {
    assert.ok(allowed('https://starship.talkdeskid.com/oauth/token'));
    assert.ok(allowed('https://a.b.talkdeskid.com/oauth/token'));
    assert.equal(allowed('https://talkdeskid.com/oauth/token'), false);
    assert.equal(allowed('https://eviltalkdeskid.com/'), false);
    assert.equal(allowed('https://starship.talkdeskid.com.evil.io/'), false);
    assert.equal(allowed('http://starship.talkdeskid.com/oauth/token'), false, 'wildcards are https only');
  });

  it('refuses userinfo, including the @ trick', () => {
    assert.equal(allowed('https://api.talkdeskapp.com@evil.com/'), false);
    assert.equal(allowed('https://user:pw@api.talkdeskapp.com/'), false);
    assert.equal(allowed('https://user@api.talkdeskapp.com/'), false);
    try {
      assertAllowedUrl('https://user:hunter2@api.talkdeskapp.com/', LIST);
      assert.fail('should refuse');
    } catch (err) {
      assert.ok(err instanceof DisallowedHostError);
      assert.ok(!JSON.stringify(err).includes('hunter2') && !err.message.includes('hunter2'));
    }
  });

  it('refuses other schemes and malformed URLs', () => {
    assert.equal(allowed('ftp://api.talkdeskapp.com/'), false);
    assert.equal(allowed('file:///etc/passwd'), false);
    assert.equal(allowed('javascript:alert(1)'), false);
    assert.equal(allowed('not a url'), false);
    assert.equal(allowed('/relative/path'), false);
  });

  it('requires https for named hosts, allows http only for exactly listed IP/loopback hosts', () => {
    assert.equal(allowed('http://api.talkdeskapp.com/'), false);
    assert.ok(allowed('http://127.0.0.1:4010/account'));
    assert.ok(allowed('https://127.0.0.1:4010/account'));
    assert.ok(allowed('http://localhost:4011/'));
    assert.ok(allowed('http://10.1.2.3/'));
    assert.ok(allowed('http://[::1]:4012/'));
  });

  it('compares ports: an entry without port means the default port only', () => {
    assert.equal(allowed('http://127.0.0.1:4011/'), false);
    assert.equal(allowed('http://127.0.0.1/'), false);
    assert.equal(allowed('https://api.talkdeskapp.com:8443/'), false);
    assert.equal(allowed('http://10.1.2.3:8080/'), false);
    assert.ok(allowed('https://api.talkdeskapp.com:8443/', ['api.talkdeskapp.com:8443']));
  });

  it('refuses IP literals, loopback and private ranges unless named exactly', () => {
    for (const url of [
      'http://127.0.0.2:4010/',
      'https://127.0.0.1/',
      'https://8.8.8.8/',
      'https://10.0.0.1/',
      'https://172.16.5.4/',
      'https://192.168.1.1/',
      'https://169.254.169.254/latest/meta-data',
      'https://0.0.0.0/',
      'https://[::1]/',
      'https://[fc00::1]/',
      'https://[::ffff:127.0.0.1]/',
      'https://localhost/',
      'https://2130706433/', // 127.0.0.1 in decimal
      'https://0x7f.1/',
    ]) {
      assert.equal(allowed(url), false, url);
    }
    // Alternative spellings of a listed address are the same address after WHATWG parsing.
    assert.ok(allowed('http://127.1:4010/'));
  });

  it('never lets a wildcard cover an IP or loopback name', () => {
    for (const entry of ['*.0.0.1', '*.1.2.3', '*.localhost', '*.com']) {
      assert.throws(() => parseAllowList([entry]), ConfigError, entry);
    }
    assert.equal(allowed('https://x.localhost/', ['*.talkdeskid.com']), false);
  });

  it('rejects malformed entries with a ConfigError', () => {
    for (const entry of ['', 'https://api.talkdeskapp.com', 'api.talkdeskapp.com/x', 'user@host', 'host:99999', '::1']) {
      assert.throws(() => parseAllowList([entry]), ConfigError, entry);
    }
    assert.equal(parseAllowList(['  API.TalkdeskApp.com  '])[0]?.hostname, 'api.talkdeskapp.com');
  });

  it('DNS guard: a wildcard-matched name resolving to a private address is refused', async () => {
    const resolveTo = (addresses: LookupAddress[]) => publicOnlyLookup((_host, cb) => cb(null, addresses));
    const run = (lookup: ReturnType<typeof publicOnlyLookup>) =>
      new Promise<{ err: Error | null; addresses: LookupAddress[] }>((resolve) =>
        lookup('x.talkdeskid.com', {}, (err, addresses) => resolve({ err, addresses })),
      );

    const ok = await run(resolveTo([{ address: '93.184.216.34', family: 4 }]));
    assert.equal(ok.err, null);
    assert.equal(ok.addresses[0]?.address, '93.184.216.34');

    for (const address of ['127.0.0.1', '10.0.0.8', '169.254.169.254', '::1', 'fd00::1', '::ffff:192.168.0.1']) {
      const bad = await run(
        resolveTo([
          { address: '93.184.216.34', family: 4 },
          { address, family: address.includes(':') ? 6 : 4 },
        ]),
      );
      assert.equal((bad.err as { code?: string } | null)?.code, DISALLOWED_ADDRESS_CODE, address);
    }
  });
});
