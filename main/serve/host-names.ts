/**
 * Which Host headers name this server. A page on another site can reach a server on this
 * machine by a name of its own that resolves here (DNS rebinding); its requests then carry
 * that name as Host, so only the names the server was asked to serve are answered: the
 * --host value, the loopback names when bound to loopback or to every interface (the local
 * user's browser reaches it by those), and the --allow-host names.
 */

const LOOPBACK = ['127.0.0.1', 'localhost', '::1'];
const EVERY_INTERFACE = ['0.0.0.0', '::'];

export function isLoopback(host: string): boolean {
  return LOOPBACK.includes(bareName(host));
}

/**
 * What is wrong with `name` as an --allow-host name, or null: a host name or an IP address,
 * without a scheme, port or path (the port is always the server's own).
 */
export function hostNameProblem(name: string): string | null {
  const bare = bareName(name);
  const hostName = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(bare);
  const ipv6 = bare.includes(':') && /^[0-9a-f:.]+$/.test(bare);
  if (hostName || ipv6) return null;
  return `"${name}" is not a host name or IP address (give it without scheme, port or path)`;
}

/** A matcher for Host headers: `port` is read when it is called, once the server listens. */
export function hostMatcher(
  bindHost: string,
  allowHosts: readonly string[],
  port: () => number,
): (header: string | undefined) => boolean {
  const names = new Set([bareName(bindHost), ...allowHosts.map(bareName)]);
  const bind = bareName(bindHost);
  if (LOOPBACK.includes(bind) || EVERY_INTERFACE.includes(bind)) {
    for (const n of LOOPBACK) names.add(n);
  }
  return (header) => {
    // name, [v6 address] or v4 address, then an optional :port (absent means 80).
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d+))?$/.exec(header ?? '');
    if (!m) return false;
    return names.has(bareName(m[1])) && Number(m[2] ?? '80') === port();
  };
}

/** Lower case, without the brackets of an IPv6 literal or a trailing root dot. */
function bareName(name: string): string {
  const lower = name.trim().toLowerCase();
  const unbracketed = /^\[(.*)\]$/.exec(lower)?.[1] ?? lower;
  return unbracketed.replace(/\.$/, '');
}
