import assert from 'node:assert/strict';
import { MAX_NAME_LENGTH } from '../../src/events/fields';
import { accountSchema } from '../../src/talkdesk/schemas';

describe("Talkdesk's account as read (GET /account)", () => {
  it('cuts a name longer than the events allow instead of refusing it: it becomes a Keyword search attribute', () => {
    const long = accountSchema.parse({ id: 'acct-1', name: 'n'.repeat(5_000) });
    assert.equal(long.name.length, MAX_NAME_LENGTH);
    assert.equal(accountSchema.parse({ id: 'acct-1', name: 'Acme' }).name, 'Acme');
  });
});
