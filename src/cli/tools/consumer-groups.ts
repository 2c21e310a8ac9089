import type { Admin } from '@platformatic/kafka';
import { bootstrapServers, FAILURE_EXIT_CODE, formatTable, parseFlags, UsageError, usageExit } from './args.js';
import { adminClient, describeFailure } from './client.js';
import { describeConsumerGroup } from './consumer-group-describe.js';

const CONSUMER_GROUPS_USAGE = `usage: samsa consumer-groups --bootstrap-server HOST:PORT <action> [options]

actions (as Kafka's kafka-consumer-groups.sh):
  --list                               every group
  --describe --group G                 each partition: current offset, log end offset, lag, owner
      [--offsets (the default) | --members [--verbose]]
                                       --members: each member, its host, client id and partition count
                                       (--verbose: and its partitions)
  --reset-offsets --group G            move the group's committed offsets; the group must have no members
      (--topic T[:P,P...] | --all-topics)
      (--to-earliest | --to-latest | --to-offset N | --shift-by N | --to-datetime YYYY-MM-DDTHH:mm:SS.sss)
      [--dry-run (the default) | --execute]
  --delete --group G                   delete a group without members, with its offsets`;

const FLAGS = {
  'bootstrap-server': 'value',
  list: 'switch',
  describe: 'switch',
  'reset-offsets': 'switch',
  delete: 'switch',
  group: 'repeated',
  topic: 'repeated',
  'all-topics': 'switch',
  'to-earliest': 'switch',
  'to-latest': 'switch',
  'to-offset': 'value',
  'shift-by': 'value',
  'to-datetime': 'value',
  'dry-run': 'switch',
  execute: 'switch',
  members: 'switch',
  offsets: 'switch',
  verbose: 'switch',
} as const;

/** ListOffsets timestamps with special meanings. */
const LATEST = -1n;
const EARLIEST = -2n;

interface PartitionRow {
  topic: string;
  partition: number;
  current: bigint | null;
  end: bigint;
  owner: { memberId: string; host: string; clientId: string } | null;
}

async function logOffsets(admin: Admin, partitions: Map<string, number[]>, timestamp: bigint) {
  const listed = await admin.listOffsets({
    topics: [...partitions].map(([name, ps]) => ({
      name,
      partitions: ps.map((partitionIndex) => ({ partitionIndex, timestamp })),
    })),
  });
  const out = new Map<string, bigint>();
  for (const t of listed) for (const p of t.partitions) out.set(`${t.name}:${p.partitionIndex}`, p.offset);
  return out;
}

async function committedOffsets(admin: Admin, group: string): Promise<Map<string, bigint>> {
  const [result] = await admin.listConsumerGroupOffsets({ groups: [group] });
  const out = new Map<string, bigint>();
  for (const t of result?.topics ?? [])
    for (const p of t.partitions)
      if (p.committedOffset >= 0n) out.set(`${t.name}:${p.partitionIndex}`, p.committedOffset);
  return out;
}

/** The members of a group (classic, or KIP-848 consumer group) and the partitions each holds. */
async function groupMembers(
  admin: Admin,
  bootstrap: string[],
  group: string,
): Promise<Array<{ memberId: string; host: string; clientId: string; assignment: Array<[string, number[]]> }> | null> {
  const described = (await admin.describeGroups({ groups: [group] })).get(group);
  if (described && described.state !== 'DEAD')
    return [...described.members.values()].map((m) => ({
      memberId: m.id,
      host: m.clientHost,
      clientId: m.clientId,
      assignment: [...(m.assignments?.values() ?? [])].map((a) => [a.topic, a.partitions]),
    }));
  const consumerGroup = await describeConsumerGroup(admin, bootstrap, group);
  if (!consumerGroup) return null;
  return consumerGroup.members.map((m) => ({
    memberId: m.memberId,
    host: m.clientHost,
    clientId: m.clientId,
    assignment: m.assignment.map((a) => [a.topic, a.partitions]),
  }));
}

/** `--describe --members`: one row per member, as Kafka's tool prints it. */
async function describeMembers(admin: Admin, bootstrap: string[], group: string, verbose: boolean): Promise<string> {
  const members = await groupMembers(admin, bootstrap, group);
  if (!members) return `Consumer group '${group}' does not exist.`;
  if (members.length === 0) return `Consumer group '${group}' has no active members.`;
  const header = ['GROUP', 'CONSUMER-ID', 'HOST', 'CLIENT-ID', '#PARTITIONS'];
  return formatTable(
    verbose ? [...header, 'ASSIGNMENT'] : header,
    members
      .sort((a, b) => a.memberId.localeCompare(b.memberId))
      .map((m) => {
        const count = m.assignment.reduce((n, [, ps]) => n + ps.length, 0);
        const row = [group, m.memberId, m.host, m.clientId, String(count)];
        if (!verbose) return row;
        const assignment = m.assignment
          .filter(([, ps]) => ps.length > 0)
          .map(([topic, ps]) => `${topic}(${[...ps].sort((a, b) => a - b).join(',')})`)
          .join(', ');
        return [...row, assignment || '-'];
      }),
  );
}

async function describe(admin: Admin, bootstrap: string[], group: string): Promise<string> {
  const members = await groupMembers(admin, bootstrap, group);
  if (!members) return `Consumer group '${group}' does not exist.`;
  const committed = await committedOffsets(admin, group);
  const owners = new Map<string, PartitionRow['owner']>();
  for (const m of members)
    for (const [topic, partitions] of m.assignment)
      for (const p of partitions)
        owners.set(`${topic}:${p}`, { memberId: m.memberId, host: m.host, clientId: m.clientId });
  const keys = [...new Set([...committed.keys(), ...owners.keys()])];
  const partitions = new Map<string, number[]>();
  for (const k of keys) {
    const [topic, p] = splitKey(k);
    partitions.set(topic, [...(partitions.get(topic) ?? []), p]);
  }
  const ends = partitions.size > 0 ? await logOffsets(admin, partitions, LATEST) : new Map<string, bigint>();
  const rows: PartitionRow[] = keys
    .map((k) => {
      const [topic, partition] = splitKey(k);
      return {
        topic,
        partition,
        current: committed.get(k) ?? null,
        end: ends.get(k) ?? -1n,
        owner: owners.get(k) ?? null,
      };
    })
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  const lines: string[] = [];
  if (members.length === 0) lines.push(`Consumer group '${group}' has no active members.`, '');
  lines.push(
    formatTable(
      ['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID', 'HOST', 'CLIENT-ID'],
      rows.map((r) => [
        group,
        r.topic,
        String(r.partition),
        r.current === null ? '-' : String(r.current),
        String(r.end),
        r.current === null ? '-' : String(r.end - r.current),
        r.owner?.memberId ?? '-',
        r.owner?.host ?? '-',
        r.owner?.clientId ?? '-',
      ]),
    ),
  );
  return lines.join('\n');
}

function splitKey(key: string): [string, number] {
  const at = key.lastIndexOf(':');
  return [key.slice(0, at), Number(key.slice(at + 1))];
}

/** An offset flag's value (--to-offset; --shift-by may be negative); anything else is a usage error. */
function integerOffset(text: string, flag: string): bigint {
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`--${flag} must be an integer, not '${text}'`);
  return BigInt(text.trim());
}

/** Kafka's --to-datetime format, local time unless a zone is given. */
function parseDatetime(text: string): bigint {
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.test(text) || Number.isNaN(ms))
    throw new UsageError(`--to-datetime must look like YYYY-MM-DDTHH:mm:SS.sss, not '${text}'`);
  return BigInt(ms);
}

async function resetOffsets(
  admin: Admin,
  bootstrap: string[],
  group: string,
  flags: ReturnType<typeof parseFlags>,
): Promise<string> {
  const described = (await admin.describeGroups({ groups: [group] })).get(group);
  let state: string = described?.state ?? 'DEAD';
  // DescribeGroups does not know KIP-848 groups: ask ConsumerGroupDescribe before treating the group as gone.
  if (state === 'DEAD') state = (await describeConsumerGroup(admin, bootstrap, group))?.state.toUpperCase() ?? state;
  if (state !== 'EMPTY' && state !== 'DEAD')
    throw new UsageError(
      `Assignments can only be reset if the group '${group}' is inactive, but the current state is ${state}.`,
    );
  const committed = await committedOffsets(admin, group);
  const partitions = new Map<string, number[]>();
  if (flags.switches.has('all-topics')) {
    for (const k of committed.keys()) {
      const [topic, p] = splitKey(k);
      partitions.set(topic, [...(partitions.get(topic) ?? []), p]);
    }
  } else {
    const topics = flags.repeated.get('topic') ?? [];
    if (topics.length === 0) throw new UsageError('--reset-offsets needs --topic or --all-topics');
    const named = topics.map((t) => {
      const [name, list] = t.split(':') as [string, string | undefined];
      return { name, list: list?.split(',').map(Number) };
    });
    const metadata = await admin.metadata({ topics: named.filter((n) => !n.list).map((n) => n.name) });
    for (const n of named) {
      const count = metadata.topics.get(n.name)?.partitionsCount;
      if (!n.list && count === undefined) throw new UsageError(`topic '${n.name}' does not exist`);
      partitions.set(n.name, n.list ?? Array.from({ length: count! }, (_, i) => i));
    }
  }
  const scenarios = ['to-earliest', 'to-latest', 'to-offset', 'shift-by', 'to-datetime'].filter(
    (s) => flags.switches.has(s) || flags.values.has(s),
  );
  if (scenarios.length !== 1)
    throw new UsageError('give exactly one of --to-earliest, --to-latest, --to-offset, --shift-by, --to-datetime');
  const earliest = await logOffsets(admin, partitions, EARLIEST);
  const latest = await logOffsets(admin, partitions, LATEST);
  // Kafka clamps every new offset into the partition's current range.
  const clamp = (k: string, o: bigint) => {
    const lo = earliest.get(k) ?? 0n;
    const hi = latest.get(k) ?? 0n;
    return o < lo ? lo : o > hi ? hi : o;
  };
  let target: (k: string) => bigint;
  const scenario = scenarios[0]!;
  if (scenario === 'to-earliest') target = (k) => earliest.get(k) ?? 0n;
  else if (scenario === 'to-latest') target = (k) => latest.get(k) ?? 0n;
  else if (scenario === 'to-offset') {
    const n = integerOffset(flags.values.get('to-offset')!, 'to-offset');
    target = (k) => clamp(k, n);
  } else if (scenario === 'shift-by') {
    const n = integerOffset(flags.values.get('shift-by')!, 'shift-by');
    target = (k) => clamp(k, (committed.get(k) ?? latest.get(k) ?? 0n) + n);
  } else {
    const at = await logOffsets(admin, partitions, parseDatetime(flags.values.get('to-datetime')!));
    // No record at or after the time: the end of the log.
    target = (k) => {
      const o = at.get(k) ?? -1n;
      return o < 0n ? (latest.get(k) ?? 0n) : o;
    };
  }
  const rows: Array<[string, number, bigint]> = [];
  for (const [topic, ps] of partitions)
    for (const p of ps.sort((a, b) => a - b)) rows.push([topic, p, target(`${topic}:${p}`)]);
  if (flags.switches.has('execute')) {
    await admin.alterConsumerGroupOffsets({
      groupId: group,
      topics: [...partitions.keys()].map((name) => ({
        name,
        partitionOffsets: rows.filter((r) => r[0] === name).map((r) => ({ partition: r[1], offset: r[2] })),
      })),
    });
  }
  return formatTable(
    ['GROUP', 'TOPIC', 'PARTITION', 'NEW-OFFSET'],
    rows.map(([t, p, o]) => [group, t, String(p), String(o)]),
  );
}

/** `samsa consumer-groups`: Kafka's kafka-consumer-groups.sh. Returns the exit code. */
export async function runConsumerGroups(argv: string[]): Promise<number> {
  let flags: ReturnType<typeof parseFlags>;
  let bootstrap: string[];
  try {
    flags = parseFlags(argv, FLAGS);
    bootstrap = bootstrapServers(flags);
    const actions = ['list', 'describe', 'reset-offsets', 'delete'].filter((a) => flags.switches.has(a));
    if (actions.length !== 1) throw new UsageError('give exactly one of --list, --describe, --reset-offsets, --delete');
    if (!flags.switches.has('list') && !flags.repeated.get('group')?.length)
      throw new UsageError('--group is required');
    if (flags.switches.has('members') && flags.switches.has('offsets'))
      throw new UsageError('give at most one of --members, --offsets');
    // Checked before connecting, so that a typo is a usage error rather than a failure half-way.
    for (const flag of ['to-offset', 'shift-by']) {
      const value = flags.values.get(flag);
      if (value !== undefined) integerOffset(value, flag);
    }
  } catch (e) {
    return usageExit('consumer-groups', CONSUMER_GROUPS_USAGE, e);
  }
  const admin = await adminClient(bootstrap);
  try {
    const groups = flags.repeated.get('group') ?? [];
    if (flags.switches.has('list')) {
      const listed = await admin.listGroups();
      for (const id of [...listed.keys()].sort()) console.log(id);
    } else if (flags.switches.has('describe')) {
      const out: string[] = [];
      for (const g of groups) {
        out.push(
          flags.switches.has('members')
            ? await describeMembers(admin, bootstrap, g, flags.switches.has('verbose'))
            : await describe(admin, bootstrap, g),
        );
      }
      console.log(out.join('\n\n'));
    } else if (flags.switches.has('reset-offsets')) {
      for (const g of groups) console.log(await resetOffsets(admin, bootstrap, g, flags));
    } else {
      await admin.deleteGroups({ groups });
      console.log(`Deletion of requested consumer groups (${groups.map((g) => `'${g}'`).join(', ')}) was successful.`);
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`samsa consumer-groups: ${e.message}`);
      return FAILURE_EXIT_CODE;
    }
    console.error(describeFailure('consumer-groups', bootstrap, e));
    return FAILURE_EXIT_CODE;
  } finally {
    await admin.close().catch(() => {});
  }
}
