import assert from 'node:assert/strict';
import { createLogger } from '../../src/logging/logger';
import { HttpProvisioner } from '../../src/partner';
import type { PartnerProvisioner } from '../../src/partner/provisioner';
import type { Store } from '../../src/store';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';
import { TestPartnerServer } from '../support/partner-server';

const SECRET = 'hook-secret-for-the-provision-pages-tests';

/**
 * A provision of several pages whose first attempt failed after its first page, retried by a worker whose
 * PARTNER_HOOKS_PAGE_SIZE differs (a deploy between attempts): every key must carry the same body on every attempt, or
 * the partner, deduping by key, keeps the first attempt's page 1 and the users the retry put there are never sent.
 */
describe('a retried provision keeps the pages of its first attempt (HTTP provisioner)', function () {
  this.timeout(120_000);
  let h: ActivityHarness;
  const server = new TestPartnerServer([SECRET]);
  const bySize = (store: Store, pageSize: number) =>
    new HttpProvisioner({
      url: server.url,
      secrets: [SECRET],
      timeoutMs: 5_000,
      pageSize,
      calls: store.partnerCalls,
      logger: createLogger({ level: 'silent' }),
    });
  /** The page size of the worker running the attempt: 2, then 10. */
  let current: PartnerProvisioner | undefined;
  const sizes = new Map<number, PartnerProvisioner>();
  before(async () => {
    await server.start();
    h = await startActivityHarness({
      partner: (store) => {
        for (const size of [2, 10]) sizes.set(size, bySize(store, size));
        current = sizes.get(2);
        // The worker's provisioner as the attempt finds it (each method and field read at the call).
        return new Proxy({} as PartnerProvisioner, {
          get: (_, prop) => {
            const value = (current as unknown as Record<string | symbol, unknown>)[prop];
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(current) : value;
          },
        });
      },
    });
  });
  after(async () => {
    await h?.close();
    await server.stop();
  });

  it('the retry after a larger page size sends the same first page under its key, then the pages that failed', async () => {
    const { installation, event, installed, ref } = await h.installing(5);
    const input = { ...ref, accountName: '', eventId: event.id, occurredAt: installed.createdAt };
    // Page 1 taken, page 2 answered 503: the attempt fails and is retried.
    server.answerNext({ status: 200, body: {} }, { status: 503 });
    await assert.rejects(h.run(h.acts.provisionAccount, input), /503/);
    current = sizes.get(10);
    await h.run(h.acts.provisionAccount, input);
    const hooks = server
      .hooks(undefined, installation.id)
      .filter((x) => x.body.type === 'account.provision' || x.body.type === 'account.users');
    const provisionKey = hooks[0]?.body.id;
    const bodiesByKey = new Map<string, Set<string>>();
    for (const x of hooks) bodiesByKey.set(x.body.id, (bodiesByKey.get(x.body.id) ?? new Set()).add(x.raw));
    for (const [key, bodies] of bodiesByKey)
      assert.equal(bodies.size, 1, `one body under ${key === provisionKey ? 'the provision key' : key}`);
    // Six licensed users (the admin and five), two a page: three pages, page 2 sent twice, page 3 once.
    const pages = hooks.map((x) => [
      x.body.type,
      (x.body.data as { page?: number; pages?: number }).page,
      (x.body.data as { pages?: number }).pages,
    ]);
    const total = (hooks[0]?.body.data as { pages?: number }).pages ?? 0;
    assert.ok(total >= 3, JSON.stringify(pages));
    assert.deepEqual(
      [...new Set(hooks.map((x) => (x.body.data as { page?: number }).page))].sort(),
      Array.from({ length: total }, (_, i) => i + 1),
      `every page sent: ${JSON.stringify(pages)}`,
    );
  });
});
