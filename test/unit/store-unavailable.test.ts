import assert from 'node:assert/strict';
import { MongoNetworkError } from 'mongodb';
import { NotDurableYetError } from '../../src/store/db';
import { storeUnavailableMessage } from '../../src/web/store-unavailable';

/** The 503 `store_unavailable` says why: MongoDB not answering only when it did not, never the error's own text. */
describe('the store_unavailable message', () => {
  const message = (err: unknown) => storeUnavailableMessage('The event may not have been stored', err);

  it('names MongoDB for a MongoError, the majority for a record not durable yet, an internal error otherwise', () => {
    assert.match(message(new MongoNetworkError('connection closed')), /\(MongoDB did not answer\)/);
    assert.match(message(new NotDurableYetError()), /\(an earlier delivery's record is not on a majority of MongoDB yet\)/);
    const internal = message(new TypeError('secret-bearing detail'));
    assert.match(internal, /\(an internal error, logged by the service\)/);
    assert.ok(!internal.includes('secret-bearing detail'));
    assert.match(internal, /deliver it again later: a repeat is recognised, never applied twice\.$/);
  });
});
