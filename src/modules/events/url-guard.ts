import dns, { type LookupAddress, type LookupOptions } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { AppError } from '../../shared/errors';

/**
 * Where webhooks may go. http and https only; unless private addresses are allowed
 * (WEBHOOK_ALLOW_PRIVATE, on outside production), every address a host name resolves to must be
 * a public unicast one: no loopback, private, link-local, unique-local, carrier-grade NAT or
 * reserved range, so a registered URL cannot reach the service's own network. Checked when an
 * endpoint is registered and again on each delivery's connection (guardedLookup), after DNS, so a
 * name that later resolves elsewhere is refused too.
 */

export class AddressNotAllowedError extends Error {
  readonly code = 'ADDRESS_NOT_ALLOWED';
  constructor(readonly address: string) {
    super(`address ${address} is not a public address`);
    this.name = 'AddressNotAllowedError';
  }
}

export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as the IPv4 address it carries.
  return ipaddr.process(address).range() === 'unicast';
}

/** A dns.lookup for http.Agent that refuses any answer holding an address that is not public. */
export function guardedLookup(
  hostname: string,
  options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const refused = addresses.find((a) => !isPublicAddress(a.address));
    if (refused) return callback(new AddressNotAllowedError(refused.address), []);
    if (options.all) return callback(null, addresses);
    callback(null, addresses[0].address, addresses[0].family);
  });
}

const refuse = (message: string) => new AppError('WEBHOOK_URL_NOT_ALLOWED', message, [{ path: 'url', message }]);

/** Registration's check: throws WEBHOOK_URL_NOT_ALLOWED with the reason, or returns the URL as it will be called. */
export async function checkWebhookUrl(raw: string, allowPrivate: boolean): Promise<string> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('url must be an absolute http or https URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse('url must use http or https');
  if (url.username || url.password) throw refuse('url must not hold credentials; the signature authenticates each delivery');
  if (allowPrivate) return url.toString();
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: string[];
  try {
    addresses = ipaddr.isValid(host) ? [host] : (await dns.promises.lookup(host, { all: true })).map((a) => a.address);
  } catch {
    throw refuse(`the host ${host} could not be resolved`);
  }
  const refused = addresses.find((a) => !isPublicAddress(a));
  if (refused) throw refuse(`the host ${host} resolves to ${refused}, which is not a public address (loopback, private and link-local addresses are refused)`);
  return url.toString();
}
