import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { startStub, type Stub, type StubHandler } from './stub';

/** What the error tests call with: an app, an installation and a JWT-looking bearer token. */
export const APP = 'app-1';
export const INST = 'inst-1';
export const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ0b2tlbiJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';

/** Runs `fn`, expecting it to reject; returns the error. */
export async function failureOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

/** The error carries nothing of axios: no config, request, response or cause. */
export function assertNoAxiosLeak(err: Error): void {
  const text = `${JSON.stringify(err)} ${inspect(err, { depth: 10 })}`;
  assert.ok(!text.includes(TOKEN));
  assert.ok(!text.includes('Bearer'));
  for (const key of ['config', 'request', 'response', 'cause']) assert.ok(!(key in err), key);
}

/** A stub Talkdesk for the enclosing describe (its answers set per test) and a client allowed to reach it. */
export interface StubbedClient {
  readonly stub: Stub;
  readonly client: TalkdeskClient;
  handler: StubHandler;
}

export function useStubbedClient(): StubbedClient {
  let stub: Stub | undefined;
  let client: TalkdeskClient | undefined;
  const t = {
    handler: (() => undefined) as StubHandler,
    get stub(): Stub {
      assert.ok(stub, 'the stub starts in before()');
      return stub;
    },
    get client(): TalkdeskClient {
      assert.ok(client, 'the client is made in before()');
      return client;
    },
  };
  before(async () => {
    stub = await startStub((req, res) => t.handler(req, res));
    client = new TalkdeskClient({ allowedHosts: [stub.host], timeoutMs: 2_000 });
  });
  after(() => stub?.close());
  beforeEach(() => {
    if (stub) stub.requests.length = 0;
  });
  return t;
}
