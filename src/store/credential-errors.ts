/** An event brings a new key under a client id the installation already holds another key for. */
export class ClientIdReusedError extends Error {
  constructor(
    readonly installationId: string,
    readonly clientId: string,
  ) {
    super(`credentials for client ${clientId} of installation ${installationId} are already held with another key`);
    this.name = 'ClientIdReusedError';
  }
}
