import * as dns from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP, LookupFunction } from 'node:net';
import { Duplex } from 'node:stream';
import { booleanFrom } from '@cronicorn/platform';

/**
 * Which targets the dispatcher may call (DESIGN §8). Non-public addresses are refused unless
 * `allowPrivateTargets` (`ALLOW_PRIVATE_TARGETS=true`) is set.
 */
export interface TargetPolicy {
  allowPrivateTargets: boolean;
  /**
   * Exact addresses allowed although they are not public (`ALLOWED_TARGET_ADDRESSES`,
   * comma-separated): an operator's escape hatch for one known internal target that is
   * narrower than `allowPrivateTargets`. `127.0.0.1` also allows `::ffff:127.0.0.1`, nothing else.
   */
  allowedAddresses?: readonly string[];
}

/** Reads the policy from `ALLOW_PRIVATE_TARGETS` and `ALLOWED_TARGET_ADDRESSES`. */
export function targetPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): TargetPolicy {
  const allowedAddresses = (env.ALLOWED_TARGET_ADDRESSES ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const address of allowedAddresses) {
    if (!parseIp(address)) throw new Error(`ALLOWED_TARGET_ADDRESSES: "${address}" is not an IP address`);
  }
  return { allowPrivateTargets: booleanFrom(env, 'ALLOW_PRIVATE_TARGETS'), allowedAddresses };
}

/** The target is not one the policy allows; raised before any connection to it is opened. */
export class TargetRefusedError extends Error {
  readonly code = 'TARGET_REFUSED';
  constructor(message: string) {
    super(`target refused: ${message}`);
    this.name = 'TargetRefusedError';
  }
}

// ---------------------------------------------------------------------------------------------
// Address classification (pure)
// ---------------------------------------------------------------------------------------------

interface ParsedIp {
  family: 4 | 6;
  value: bigint;
}

type Rule = { family: 4 | 6; base: bigint; prefix: number; label: string };

function rule(cidr: string, label: string): Rule {
  const [address, prefix] = cidr.split('/');
  const parsed = parseIp(address);
  if (!parsed) throw new Error(`bad rule ${cidr}`);
  return { family: parsed.family, base: parsed.value, prefix: Number(prefix), label };
}

// First match wins, so the specific entries (metadata, broadcast) come before their ranges.
const RULES: readonly Rule[] = [
  rule('169.254.169.254/32', 'a cloud metadata address'),
  rule('100.100.100.200/32', 'a cloud metadata address'),
  rule('fd00:ec2::254/128', 'a cloud metadata address'),
  rule('255.255.255.255/32', 'the broadcast address'),
  rule('0.0.0.0/8', 'a "this network" address'),
  rule('10.0.0.0/8', 'a private address'),
  rule('100.64.0.0/10', 'a shared (CGNAT) address'),
  rule('127.0.0.0/8', 'a loopback address'),
  rule('169.254.0.0/16', 'a link-local address'),
  rule('172.16.0.0/12', 'a private address'),
  rule('192.0.0.0/24', 'a reserved address'),
  rule('192.0.2.0/24', 'a documentation address'),
  rule('192.88.99.0/24', 'a reserved address'),
  rule('192.168.0.0/16', 'a private address'),
  rule('198.18.0.0/15', 'a benchmarking address'),
  rule('198.51.100.0/24', 'a documentation address'),
  rule('203.0.113.0/24', 'a documentation address'),
  rule('224.0.0.0/4', 'a multicast address'),
  rule('240.0.0.0/4', 'a reserved address'),
  rule('::/128', 'the unspecified address'),
  rule('::1/128', 'a loopback address'),
  rule('64:ff9b:1::/48', 'a reserved address'),
  rule('100::/64', 'a discard address'),
  rule('2001::/23', 'a reserved address'),
  rule('2001:db8::/32', 'a documentation address'),
  rule('3fff::/20', 'a documentation address'),
  rule('fc00::/7', 'a private (unique local) address'),
  rule('fe80::/10', 'a link-local address'),
  rule('fec0::/10', 'a site-local address'),
  rule('ff00::/8', 'a multicast address'),
  // IANA hands out global unicast from 2000::/3 only: the rest is reserved, whatever it routes to.
  rule('::/3', 'a reserved address'),
  rule('4000::/2', 'a reserved address'),
  rule('8000::/1', 'a reserved address'),
];

/**
 * Why `address` is not a public unicast address (for example `'a loopback address'`), or null
 * when it is public. IPv6 forms that embed an IPv4 address (mapped `::ffff:a.b.c.d`, translated
 * `::ffff:0:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged
 * by the embedded address.
 */
export function classifyAddress(address: string): string | null {
  const parsed = parseIp(address);
  if (!parsed) return 'not an IP address';
  const ip = embeddedIpv4(parsed) ?? parsed;
  const bits = ip.family === 4 ? 32 : 128;
  for (const candidate of RULES) {
    if (candidate.family !== ip.family) continue;
    const shift = BigInt(bits - candidate.prefix);
    if (ip.value >> shift === candidate.base >> shift) return candidate.label;
  }
  return null;
}

function embeddedIpv4(ip: ParsedIp): ParsedIp | null {
  if (ip.family === 4) return null;
  const low32 = ip.value & 0xffffffffn;
  const high96 = ip.value >> 32n;
  // ::ffff:0:0/96 (mapped), ::ffff:0:0:0/96 (SIIT translated), 64:ff9b::/96 (NAT64),
  // ::/96 except ::/127 (deprecated compatible)
  if (
    high96 === 0xffffn ||
    high96 === 0xffff0000n ||
    high96 === 0x64ff9b0000000000000000n ||
    (high96 === 0n && low32 > 1n)
  ) {
    return { family: 4, value: low32 };
  }
  if (ip.value >> 112n === 0x2002n) return { family: 4, value: (ip.value >> 80n) & 0xffffffffn };
  return null;
}

/** Parses an IPv4 or IPv6 literal (zone id and brackets tolerated); null when it is neither. */
function parseIp(raw: string): ParsedIp | null {
  const address = raw.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(address);
  if (family === 4) return { family: 4, value: ipv4Value(address) };
  if (family !== 6) return null;
  let text = address.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = ipv4Value(dotted[1]);
    text = `${text.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const fill = tail === null ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = [...headGroups, ...fill, ...tailGroups];
  const value = groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
  return { family: 6, value };
}

function ipv4Value(address: string): bigint {
  return address.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function sameAddress(a: ParsedIp, b: ParsedIp): boolean {
  const left = a.family === 6 && a.value >> 32n === 0xffffn ? { family: 4, value: a.value & 0xffffffffn } : a;
  const right =
    b.family === 6 && b.value >> 32n === 0xffffn ? { family: 4, value: b.value & 0xffffffffn } : b;
  return left.family === right.family && left.value === right.value;
}

// ---------------------------------------------------------------------------------------------
// The guard: checks, a pinned DNS lookup, and agents that enforce both on every connection
// ---------------------------------------------------------------------------------------------

type Resolver = (
  hostname: string,
  options: dns.LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void,
) => void;

/**
 * Enforces a {@link TargetPolicy}. The check runs on the resolved address inside the socket's
 * own DNS lookup, so the address that was checked is the address that is connected to: a DNS
 * answer that changes between a check and the connect (rebinding) cannot slip through. IP
 * literals skip DNS in Node, so the agents check those before creating the socket. Every
 * redirect hop opens its connection through the same agents and is checked the same way.
 */
export class TargetGuard {
  private readonly allowed: ParsedIp[];

  constructor(
    private readonly policy: TargetPolicy,
    private readonly resolve: Resolver = dns.lookup,
  ) {
    this.allowed = (policy.allowedAddresses ?? []).map((address) => {
      const parsed = parseIp(address);
      if (!parsed) throw new Error(`allowed target address "${address}" is not an IP address`);
      return parsed;
    });
  }

  /** The refusal for connecting to `address` under this policy, or null when allowed. */
  refusalFor(address: string): TargetRefusedError | null {
    const reason = this.reasonToRefuse(address);
    return reason ? new TargetRefusedError(reason) : null;
  }

  private reasonToRefuse(address: string): string | null {
    const parsed = parseIp(address);
    if (!parsed) return `${address} is not an IP address`;
    if (this.policy.allowPrivateTargets) return null;
    if (this.allowed.some((entry) => sameAddress(entry, parsed))) return null;
    const reason = classifyAddress(address);
    return reason ? `${address} is ${reason}` : null;
  }

  /**
   * Checks what can be checked without DNS: the scheme (http/https only) and, when the host is
   * an IP literal, the address. Returns the parsed URL.
   */
  checkUrl(url: string | URL): URL {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TargetRefusedError('not a valid URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TargetRefusedError(`${parsed.protocol} URLs are not allowed`);
    }
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      const refusal = this.refusalFor(host);
      if (refusal) throw refusal;
    }
    return parsed;
  }

  /** A `net` lookup that refuses a host when any of its addresses is refused. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const reason = addresses.map((entry) => this.reasonToRefuse(entry.address)).find((r) => r !== null);
      if (reason) return callback(new TargetRefusedError(`${hostname}: ${reason}`), []);
      if (addresses.length === 0) {
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };

  /** Keep-alive agents whose every connection goes through this guard. */
  createAgents(options: http.AgentOptions = { keepAlive: true }): {
    httpAgent: http.Agent;
    httpsAgent: https.Agent;
  } {
    return {
      httpAgent: new GuardedHttpAgent(this, options),
      httpsAgent: new GuardedHttpsAgent(this, options),
    };
  }

  /** @internal used by the agents before a socket exists. */
  refusalForHost(host: string | null | undefined): TargetRefusedError | null {
    const bare = (host ?? '').replace(/^\[|\]$/g, '');
    return isIP(bare) ? this.refusalFor(bare) : null;
  }
}

type ConnectCallback = (err: Error | null, stream: Duplex) => void;

class GuardedHttpAgent extends http.Agent {
  constructor(
    private readonly guard: TargetGuard,
    options: http.AgentOptions,
  ) {
    super({ ...options, lookup: guard.lookup });
  }

  override createConnection(
    options: http.ClientRequestArgs,
    callback?: ConnectCallback,
  ): Duplex | null | undefined {
    const refusal = this.guard.refusalForHost(options.host);
    if (refusal) return refuse(refusal, callback);
    return super.createConnection({ ...options, lookup: this.guard.lookup }, callback);
  }
}

class GuardedHttpsAgent extends https.Agent {
  constructor(
    private readonly guard: TargetGuard,
    options: https.AgentOptions,
  ) {
    super({ ...options, lookup: guard.lookup });
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: ConnectCallback,
  ): Duplex | null | undefined {
    const refusal = this.guard.refusalForHost(options.host);
    if (refusal) return refuse(refusal, callback);
    return super.createConnection({ ...options, lookup: this.guard.lookup }, callback);
  }
}

// Node's Agent accepts an error through the callback and fails the request with it; the
// callback contract has no "no stream" variant, hence the cast.
function refuse(error: TargetRefusedError, callback?: ConnectCallback): undefined {
  if (!callback) throw error;
  process.nextTick(() => callback(error, undefined as unknown as Duplex));
  return undefined;
}
