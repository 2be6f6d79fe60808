import assert from 'node:assert/strict';
import http from 'node:http';
import { type LightWeb, useLightWeb } from './support';

/**
 * A chunked body (no content-length) far over the 64 kB limit is refused as it arrives: the 413 comes back while
 * the client is still sending, not after the server has read it all (src/web/raw-body.ts counts as it reads).
 */
describe('security: a chunked body far over the limit is refused before it has all been sent', function () {
  this.timeout(60_000);
  let sys: LightWeb;
  useLightWeb((w) => (sys = w));

  it('answers 413 body_too_large with most of a 100 MB body still unsent', async () => {
    const total = 100 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    let written = 0;
    const answer = await new Promise<{ status: number; body: string; writtenThen: number }>((resolve, reject) => {
      const req = http.request(`${sys.web.url}/talkdesk/events`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      req.on('response', (res) => {
        const writtenThen = written;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), writtenThen });
          req.destroy();
        });
      });
      // Writes after the answer may meet a closed connection: the answer is what is tested.
      req.on('error', (err) => (written >= total ? reject(err) : undefined));
      const pump = (): void => {
        while (written < total && !req.destroyed) {
          written += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!req.destroyed) req.end();
      };
      req.write('{"padding":"');
      pump();
    });
    assert.equal(answer.status, 413, answer.body);
    assert.match(answer.body, /body_too_large/);
    assert.ok(answer.writtenThen < total / 2, `answered after ${answer.writtenThen} bytes of ${total} were written`);
  });
});
