import { TalkdeskRequestError } from './errors';
import { TalkdeskHttp, segment, type TalkdeskClientOptions } from './http';
import { allUserPages, userPage } from './paging';
import {
  accountSchema,
  installationSchema,
  installationStateSchema,
  userInfoSchema,
  userSchema,
  type InstallationStateChange,
  type TalkdeskAccount,
  type TalkdeskInstallation,
  type TalkdeskInstallationState,
  type TalkdeskToken,
  type TalkdeskUser,
  type TalkdeskUserInfo,
} from './schemas';
import { exchangeAuthorizationCode, requestToken, type CodeExchangeRequest, type TokenRequest, type UserToken } from './token-grants';

export { endpointOf, type TalkdeskClientOptions } from './http';
export type { CodeExchangeRequest, TokenRequest, UserToken } from './token-grants';

/**
 * Client for the Talkdesk endpoints the lifecycle needs: the token grants (token-grants.ts),
 * the SSO userinfo read and the apps/users API here. Transport, allow-list and safe errors
 * are in http.ts (see failures.ts for Temporal).
 */
export class TalkdeskClient {
  private readonly http: TalkdeskHttp;

  constructor(options: TalkdeskClientOptions) {
    this.http = new TalkdeskHttp(options);
  }

  /** OAuth client credentials with a signed JWT assertion: POST form to the event's tokens URL. */
  async requestToken(req: TokenRequest): Promise<TalkdeskToken> {
    return requestToken(this.http, req);
  }

  /** Sign-in: the authorization_code grant (JWT assertion or HTTP Basic client authentication). */
  async exchangeAuthorizationCode(req: CodeExchangeRequest): Promise<UserToken> {
    return exchangeAuthorizationCode(this.http, req);
  }

  /** The signed-in user: GET the installation's userinfo link (`/users/me`) with the user's token. */
  async getUserInfo(userinfoUrl: string, token: string): Promise<TalkdeskUserInfo> {
    return this.http.json({ method: 'GET', target: this.http.allowed(userinfoUrl), token, secrets: [token] }, userInfoSchema);
  }

  /** The URL when its host is allow-listed (a link the browser is sent to); DisallowedHostError otherwise. */
  allowedUrl(url: string): URL {
    return this.http.allowed(url).url;
  }

  /** GET /account (scope account:read). */
  async getAccount(root: string, token: string): Promise<TalkdeskAccount> {
    return this.http.json({ method: 'GET', target: this.http.at(root, ['account']), token, secrets: [token] }, accountSchema);
  }

  /** GET /users/{id} (scope users:read). */
  async getUser(root: string, userId: string, token: string): Promise<TalkdeskUser> {
    return this.http.json(
      { method: 'GET', target: this.http.at(root, ['users', segment(userId, 'user id')]), token, secrets: [token] },
      userSchema,
    );
  }

  /** Every user of GET /users across all pages (scope users:read). */
  async listUsers(root: string, token: string): Promise<TalkdeskUser[]> {
    return allUserPages(this.http, this.http.at(root, ['users']), token);
  }

  /** Every licensed user of the installation across all pages (scope apps:read). */
  async listLicensedUsers(root: string, appId: string, installationId: string, token: string): Promise<TalkdeskUser[]> {
    return allUserPages(this.http, this.http.at(root, [...this.installationPath(appId, installationId), 'users']), token);
  }

  /**
   * One page of the installation's licensed users (scope apps:read), for a reader that
   * heartbeats and resumes page by page: `pageUrl` is a `next` this method returned
   * (absent for the first page); `next` is absent on the last page.
   */
  async licensedUsersPage(
    root: string,
    appId: string,
    installationId: string,
    token: string,
    pageUrl?: string,
  ): Promise<{ users: TalkdeskUser[]; next?: string }> {
    return userPage(this.http, this.http.at(root, [...this.installationPath(appId, installationId), 'users']), token, pageUrl);
  }

  /** GET /apps/{app_id}/installations/{id} (scope apps:read); `_embedded.state` comes out as `state`. */
  async getInstallation(root: string, appId: string, installationId: string, token: string): Promise<TalkdeskInstallation> {
    const target = this.http.at(root, this.installationPath(appId, installationId));
    return this.http.json({ method: 'GET', target, token, secrets: [token] }, installationSchema);
  }

  /** Approve or reject (also acknowledges an update or uninstall): POST .../state (scope apps:write). */
  async setInstallationState(
    root: string,
    appId: string,
    installationId: string,
    token: string,
    change: InstallationStateChange,
  ): Promise<TalkdeskInstallationState> {
    let payload: InstallationStateChange;
    if (change.state === 'approve') payload = { state: 'approve' };
    else if (change.state === 'reject' && typeof change.reason === 'string' && change.reason.trim() !== '') {
      payload = { state: 'reject', reason: change.reason };
    } else throw new TalkdeskRequestError('the state change must be approve, or reject with a non-empty reason');

    const target = this.http.at(root, [...this.installationPath(appId, installationId), 'state']);
    return this.http.json(
      { method: 'POST', target, token, secrets: [token], body: { contentType: 'application/json', text: JSON.stringify(payload) } },
      installationStateSchema,
    );
  }

  /** Acknowledge rotated credentials: POST .../credentials/{client_id}/state {"state":"acknowledged"} → 202. */
  async acknowledgeCredentials(root: string, appId: string, installationId: string, clientId: string, token: string): Promise<void> {
    const target = this.http.at(root, [
      ...this.installationPath(appId, installationId),
      'credentials',
      segment(clientId, 'client id'),
      'state',
    ]);
    await this.http.exchange({
      method: 'POST',
      target,
      token,
      secrets: [token],
      body: { contentType: 'application/json', text: JSON.stringify({ state: 'acknowledged' }) },
    });
  }

  private installationPath(appId: string, installationId: string): string[] {
    return ['apps', segment(appId, 'app id'), 'installations', segment(installationId, 'installation id')];
  }
}
