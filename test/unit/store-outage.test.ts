import assert from 'node:assert/strict';
import { MongoNetworkError, MongoServerError, MongoServerSelectionError, MongoTopologyClosedError } from 'mongodb';
import { isStoreOutage } from '../../src/store';
import { TalkdeskUnavailableError } from '../../src/talkdesk/errors';

/** Which failures the launch answers 503 store_unavailable (try again) rather than 500 (ours to look into). */
describe('isStoreOutage', () => {
  it('takes the driver errors of a store not reached, and the bare socket errors it lets through', () => {
    assert.ok(isStoreOutage(new MongoNetworkError('connection 2 to 127.0.0.1:1 closed')));
    assert.ok(isStoreOutage(new MongoTopologyClosedError()));
    const selection = Object.create(MongoServerSelectionError.prototype) as Error;
    assert.ok(isStoreOutage(selection));
    const epipe = Object.assign(new Error('This socket has been ended by the other party'), { code: 'EPIPE' });
    assert.ok(isStoreOutage(epipe));
  });

  it('not a command the store refused (a fault to look into), not our own errors that name a socket code', () => {
    assert.equal(isStoreOutage(new MongoServerError({ message: 'E11000 duplicate key error', code: 11000 })), false);
    assert.equal(isStoreOutage(new TalkdeskUnavailableError({ endpoint: 'token', code: 'ECONNRESET' })), false);
    assert.equal(isStoreOutage(new Error('boom')), false);
    assert.equal(isStoreOutage(undefined), false);
  });
});
