import assert from 'node:assert/strict';
import { userLogoutSchema } from '../../src/events/user-logout';

describe('events: the user.logout schema', () => {
  const body = (email: unknown) => ({
    id: '0123456789abcdef0123456789abcdef',
    created_at: '2026-12-04T12:00:00Z',
    api_version: '1',
    type: 'user.logout',
    app_id: 'app0123456789abcdef',
    data: { account_id: 'acct1', user_id: 'user1', installation_id: 'inst1', ...(email === 'absent' ? {} : { user_email: email }) },
  });

  it('takes a logout whose email is absent, empty or null (only the ids end sessions), the email then left out', () => {
    for (const email of ['absent', '', null]) {
      const parsed = userLogoutSchema.safeParse(body(email));
      assert.ok(parsed.success, `${String(email)}: ${JSON.stringify(parsed.error?.issues)}`);
      assert.equal(parsed.data.data.user_email, undefined);
    }
    assert.equal(userLogoutSchema.parse(body('a@example.com')).data.user_email, 'a@example.com');
  });

  it('still refuses an email that is not text, or holds control characters', () => {
    for (const email of [42, 'a\u0000b', ['a@example.com']])
      assert.equal(userLogoutSchema.safeParse(body(email)).success, false, String(email));
  });
});
