import { isIP } from 'node:net';

/**
 * Whether a request's Host header names this listener in a way no other site can. A page of another site
 * can make its own host name resolve to this machine (DNS rebinding) and then call the console as its own
 * origin, past the browser's same-origin checks; its requests still carry that name in Host. So the console
 * answers only to IP addresses (a site cannot own one of those), and to the names the operator gave the broker
 * (`allowed`: localhost, this machine's name, the advertised hosts, samsa.console.allowed.hosts), as Django's
 * ALLOWED_HOSTS and development servers do.
 */
export function hostAllowed(hostHeader: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (!hostHeader) return false;
  let host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) host = host.slice(1, host.indexOf(']') > 0 ? host.indexOf(']') : undefined);
  else host = host.replace(/:\d*$/, '');
  if (host.endsWith('.')) host = host.slice(0, -1);
  return isIP(host) !== 0 || allowed.has(host);
}
