import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Network namespaces for tests that cut brokers off from each other: one namespace per member (an etcd, each
 * broker), each with a veth pair into one bridge, and the test's own process (the clients) on the bridge in the
 * root namespace. A cut is a pair of blackhole routes (each side's packets to the other are dropped at routing),
 * as the kernel here carries no traffic-control actions: new connections across a cut fail at once, established
 * ones stop hearing from each other. Needs root (CAP_NET_ADMIN) and iproute2.
 */
export const netnsUnavailable: string | false = (() => {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'iproute2 (ip netns) is not installed';
  }
})();

/**
 * The skip reason of the tests that cut a leader off in network namespaces: they run on demand
 * (SAMSA_PARTITION_TESTS=1), leader-partitioned.test.ts says why.
 */
export const partitionTestsOnDemand: string | false =
  process.env.SAMSA_PARTITION_TESTS === '1' ? false : 'on demand: SAMSA_PARTITION_TESTS=1';

/** The subnet of the test networks: 10.<SUBNET>.<network>.x/24, one /24 per network of a run. */
const SUBNET = 77;

export class TestNetwork {
  private readonly cuts = new Set<string>();

  private constructor(
    /** Prefix of the namespace and link names, unique per network. */
    private readonly tag: string,
    private readonly prefix: string,
    private readonly members: Map<string, number>,
  ) {}

  /** A bridge with the root namespace on it (the `.1` address), and one namespace per member name. */
  static async create(names: string[]): Promise<TestNetwork> {
    // Unique per process and network, short enough for interface names (15 bytes).
    const id = (process.pid % 200) + 20;
    const tag = `sn${id}${Math.floor(Math.random() * 1000)}`;
    const prefix = `10.${SUBNET}.${id}`;
    const members = new Map(names.map((n, i) => [n, 10 + i]));
    const network = new TestNetwork(tag, prefix, members);
    const bridge = `${tag}br`;
    await ip('link', 'add', bridge, 'type', 'bridge');
    await ip('addr', 'add', `${prefix}.1/24`, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    for (const [name, host] of members) {
      const ns = network.namespace(name);
      const veth = `${tag}v${host}`;
      await ip('netns', 'add', ns);
      await ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ip('link', 'set', veth, 'master', bridge, 'up');
      await ip('-n', ns, 'addr', 'add', `${prefix}.${host}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    return network;
  }

  namespace(name: string): string {
    if (!this.members.has(name)) throw new Error(`no member ${name}`);
    return `${this.tag}-${name}`;
  }

  /** The member's address on the bridge. */
  address(name: string): string {
    return `${this.prefix}.${this.members.get(name)!}`;
  }

  /** The command prefix that runs a program inside the member's namespace. */
  exec(name: string): string[] {
    return ['ip', 'netns', 'exec', this.namespace(name)];
  }

  /** Cuts `name` off from each of `others` in both directions (the root namespace, the clients, stays connected). */
  async cut(name: string, others: string[]): Promise<void> {
    for (const other of others) {
      const key = [name, other].sort().join('|');
      if (this.cuts.has(key)) continue;
      await ip('-n', this.namespace(name), 'route', 'add', 'blackhole', `${this.address(other)}/32`);
      await ip('-n', this.namespace(other), 'route', 'add', 'blackhole', `${this.address(name)}/32`);
      this.cuts.add(key);
    }
  }

  /** Joins `name` to every member it was cut off from. */
  async heal(name: string): Promise<void> {
    for (const key of [...this.cuts]) {
      const [a, b] = key.split('|') as [string, string];
      if (a !== name && b !== name) continue;
      await ip('-n', this.namespace(a), 'route', 'del', 'blackhole', `${this.address(b)}/32`);
      await ip('-n', this.namespace(b), 'route', 'del', 'blackhole', `${this.address(a)}/32`);
      this.cuts.delete(key);
    }
  }

  /** Removes the namespaces (their links go with them) and the bridge. */
  async destroy(): Promise<void> {
    for (const name of this.members.keys()) await ip('netns', 'del', this.namespace(name)).catch(() => {});
    await ip('link', 'del', `${this.tag}br`).catch(() => {});
  }
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}
