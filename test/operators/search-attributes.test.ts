import assert from 'node:assert/strict';
import type { Connection } from '@temporalio/client';
import { ensureSearchAttributes } from '../../src/temporal/search-attributes';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { temporalDevEnv } from '../support/servers';

/** `npm run setup:temporal`'s registration: idempotent, and it refuses an attribute registered with another type. */
describe('search attributes: registration (dev server)', function () {
  this.timeout(60_000);

  it('on a namespace that has them as Keyword (the dev server, from its flags), adds nothing and refuses nothing', async () => {
    const env = await temporalDevEnv();
    assert.deepEqual(await ensureSearchAttributes(env.connection, env.namespace ?? 'default'), []);
  });

  it('refuses, naming it, an attribute registered by hand with another type (exact-match filters would misbehave)', async () => {
    const env = await temporalDevEnv();
    const listed = await env.connection.operatorService.listSearchAttributes({ namespace: env.namespace ?? 'default' });
    const phase = ALL_SEARCH_ATTRIBUTES[0]!.name;
    // The real answer, with one attribute's type changed to Text (1).
    const changed = { ...listed, customAttributes: { ...listed.customAttributes, [phase]: 1 } };
    const connection = {
      operatorService: { listSearchAttributes: async () => changed, addSearchAttributes: async () => ({}) },
    } as unknown as Connection;
    await assert.rejects(
      ensureSearchAttributes(connection, 'default'),
      new RegExp(`${phase} exist on namespace default with a type other than Keyword`),
    );
  });
});
