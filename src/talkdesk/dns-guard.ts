import { lookup as dnsLookup } from 'node:dns';
import { isIpLiteral, isLoopbackName, isNonPublicAddress } from './ip';
import { DISALLOWED_ADDRESS_CODE } from './responses';

/**
 * An allow-list entry trusts a name, not what its DNS zone says today: a name
 * (wildcard-matched or listed exactly) pointing at 127.0.0.1 or 169.254.169.254
 * must still not reach an internal service. Every host name is resolved through
 * this guard except IP literals (nothing to resolve: they match only an entry
 * naming them exactly) and loopback names (which the operator can only have
 * listed exactly, for the local simulator and tests).
 */

/** True when a request to `hostname` must resolve it through publicOnlyLookup. */
export function needsDnsGuard(hostname: string): boolean {
  return !isIpLiteral(hostname) && !isLoopbackName(hostname);
}

export type LookupAddress = { address: string; family: 4 | 6 };
export type LookupCallback = (err: Error | null, address: LookupAddress[]) => void;
export type Resolver = (hostname: string, cb: (err: Error | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: Resolver = (hostname, cb) =>
  dnsLookup(hostname, { all: true }, (err, addresses) =>
    cb(
      err,
      (addresses ?? []).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })),
    ),
  );

/** Lookup function for axios/http: fails with DISALLOWED_ADDRESS_CODE when any address is not public. */
export function publicOnlyLookup(resolve: Resolver = systemResolver) {
  return (hostname: string, _options: object, cb: LookupCallback): void => {
    resolve(hostname, (err, addresses) => {
      if (err) return cb(err, []);
      if (addresses.length === 0 || addresses.some((a) => isNonPublicAddress(a.address))) {
        return cb(Object.assign(new Error('host resolves to a non-public address'), { code: DISALLOWED_ADDRESS_CODE }), []);
      }
      cb(null, addresses);
    });
  };
}
