import assert from 'node:assert/strict';
import type { Context } from 'koa';
import { setCookie } from '../../src/web/launch/http';

/** The sign-in's and the session's cookies, as written (src/web/launch/http.ts). */
describe('launch cookies: attributes', () => {
  const headersFor = (o: Parameters<typeof setCookie>[3]) => {
    const headers: string[] = [];
    setCookie({ append: (_name: string, value: string) => headers.push(value) } as unknown as Context, 'c', 'v', o);
    return headers.map((h) => h.split('; '));
  };
  const written = (o: Parameters<typeof setCookie>[3]) => headersFor(o).at(-1) ?? [];

  it('SameSite=None (framed by Talkdesk): Secure and Partitioned, so a browser blocking third-party cookies keeps them', () => {
    assert.deepEqual(written({ path: '/', maxAgeSeconds: 60, sameSite: 'none', secure: false }), [
      'c=v',
      'Path=/',
      'Max-Age=60',
      'HttpOnly',
      'SameSite=None',
      'Secure',
      'Partitioned',
    ]);
  });

  it('SameSite=None: an unpartitioned cookie of the name (set before Partitioned was) is expired first, else it shadowed the new one', () => {
    const headers = headersFor({ path: '/', maxAgeSeconds: 60, sameSite: 'none', secure: true });
    assert.equal(headers.length, 2);
    assert.deepEqual(headers[0], ['c=', 'Path=/', 'Max-Age=0', 'HttpOnly', 'SameSite=None', 'Secure']);
    assert.ok(headers[1]?.includes('Partitioned') && headers[1]?.includes('c=v'), 'then the partitioned cookie');
  });

  it('SameSite=Lax (opened as a page of its own): neither partitioned nor, over http, Secure', () => {
    assert.equal(headersFor({ path: '/app', maxAgeSeconds: 60, sameSite: 'lax', secure: false }).length, 1);
    const attrs = written({ path: '/app', maxAgeSeconds: 60, sameSite: 'lax', secure: false });
    assert.deepEqual(attrs, ['c=v', 'Path=/app', 'Max-Age=60', 'HttpOnly', 'SameSite=Lax']);
    assert.ok(written({ path: '/', maxAgeSeconds: 1, sameSite: 'lax', secure: true }).includes('Secure'));
  });
});
