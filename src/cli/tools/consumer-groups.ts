import { readFile } from 'node:fs/promises';
import type { Admin } from '@platformatic/kafka';
import {
  bootstrapServers,
  FAILURE_EXIT_CODE,
  integerFlag,
  type ParsedFlags,
  parseFlags,
  UsageError,
  usageExit,
} from './args.js';
import { adminClient, commandConfigSecurity, describeFailure, ToolError } from './client.js';
import { type ClientSecurity, COMMAND_CONFIG_HELP } from './client-security.js';
import { describeConsumerGroup } from './consumer-group-describe.js';
import { javaColumns } from './java-format.js';

const CONSUMER_GROUPS_USAGE = `usage: samsa consumer-groups --bootstrap-server HOST:PORT <action> [options]

actions (as Kafka's kafka-consumer-groups.sh):
  --list [--state [S,S...]] [--type [T,T...]]
                                       every group; --state and --type add each group's state and type (classic
                                       or consumer), or keep those in the given ones
  --describe (--group G ... | --all-groups)
      [--offsets (the default) | --members [--verbose] | --state [--verbose]]
                                       --offsets: each partition's current offset, log end offset, lag and owner
                                       --members: each member, its host, client id and partition count
                                       (--verbose: and its partitions)
                                       --state: coordinator, assignment strategy, state and member count
                                       (--verbose: and the group and target assignment epochs)
  --reset-offsets (--group G ... | --all-groups)
                                       move the groups' committed offsets; a group must have no members
      (--topic T[:P,P...] ... | --all-topics | --from-file FILE)
      (--to-earliest | --to-latest | --to-current | --to-offset N | --shift-by N
       | --to-datetime YYYY-MM-DDTHH:mm:SS.sss | --by-duration PnDTnHnMnS | --from-file FILE)
      [--dry-run (the default) | --execute] [--export]
                                       --export prints the plan as CSV (topic,partition,offset, with the group
                                       first when several groups are reset), as --from-file reads it
  --delete (--group G ... | --all-groups)  delete groups without members, with their offsets
  --delete-offsets --group G --topic T[:P,P...] ...
                                       delete a group's committed offsets of topics (or some of their partitions)

  --timeout MS                         how long to wait for the brokers' answers (default 5000)
${COMMAND_CONFIG_HELP}`;

const FLAGS = {
  'bootstrap-server': 'value',
  'command-config': 'value',
  list: 'switch',
  describe: 'switch',
  'reset-offsets': 'switch',
  delete: 'switch',
  'delete-offsets': 'switch',
  group: 'repeated',
  'all-groups': 'switch',
  topic: 'repeated',
  'all-topics': 'switch',
  'to-earliest': 'switch',
  'to-latest': 'switch',
  'to-current': 'switch',
  'to-offset': 'value',
  'shift-by': 'value',
  'to-datetime': 'value',
  'by-duration': 'value',
  'from-file': 'value',
  'dry-run': 'switch',
  execute: 'switch',
  export: 'switch',
  members: 'switch',
  offsets: 'switch',
  state: 'optional',
  type: 'optional',
  verbose: 'switch',
  timeout: 'value',
} as const;

const ACTIONS = ['list', 'describe', 'delete', 'reset-offsets', 'delete-offsets'] as const;
const RESET_SCENARIOS = [
  'to-offset',
  'shift-by',
  'to-datetime',
  'by-duration',
  'to-earliest',
  'to-latest',
  'to-current',
  'from-file',
] as const;

/** Kafka's placeholder for a column without a value. */
const MISSING = '-';
/** ListOffsets timestamps with special meanings. */
const LATEST = -1n;
const EARLIEST = -2n;
/** Kafka's default --timeout (ms). */
const DEFAULT_TIMEOUT_MS = 5000;
/** FindCoordinator's key type for groups. */
const GROUP_KEY_TYPE = 0;

/** Kafka's names of the group states (GroupState.toString), from the client library's or the broker's spelling. */
const STATE_NAMES: Record<string, string> = {
  preparing_rebalance: 'PreparingRebalance',
  preparingrebalance: 'PreparingRebalance',
  completing_rebalance: 'CompletingRebalance',
  completingrebalance: 'CompletingRebalance',
  stable: 'Stable',
  dead: 'Dead',
  empty: 'Empty',
  assigning: 'Assigning',
  reconciling: 'Reconciling',
};
function stateName(state: string): string {
  return STATE_NAMES[state.toLowerCase()] ?? state;
}
/** The states --list --state accepts (GroupState.groupStatesForType(CONSUMER)). */
const CONSUMER_GROUP_STATES = [
  'PreparingRebalance',
  'CompletingRebalance',
  'Stable',
  'Dead',
  'Empty',
  'Assigning',
  'Reconciling',
];

interface MemberView {
  memberId: string;
  instanceId: string | null;
  host: string;
  clientId: string;
  assignment: Array<[string, number[]]>;
}

/** A group as the tool shows it, classic or KIP-848. */
interface GroupView {
  group: string;
  state: string;
  assignor: string;
  coordinator: { id: number; host: string; port: number } | null;
  members: MemberView[];
  groupEpoch: number | null;
  assignmentEpoch: number | null;
}

interface Context {
  admin: Admin;
  bootstrap: string[];
  security: ClientSecurity;
  flags: ParsedFlags;
}

const key = (topic: string, partition: number) => `${topic}:${partition}`;
function splitKey(k: string): [string, number] {
  const at = k.lastIndexOf(':');
  return [k.slice(0, at), Number(k.slice(at + 1))];
}
function byTopicPartition(a: string, b: string): number {
  const [ta, pa] = splitKey(a);
  const [tb, pb] = splitKey(b);
  return ta < tb ? -1 : ta > tb ? 1 : pa - pb;
}
function groupByTopic(keys: Iterable<string>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const k of keys) {
    const [topic, p] = splitKey(k);
    out.set(topic, [...(out.get(topic) ?? []), p]);
  }
  return out;
}

async function logOffsets(admin: Admin, partitions: Iterable<string>, timestamp: bigint): Promise<Map<string, bigint>> {
  const byTopic = groupByTopic(partitions);
  const out = new Map<string, bigint>();
  if (byTopic.size === 0) return out;
  const listed = await admin.listOffsets({
    topics: [...byTopic].map(([name, ps]) => ({
      name,
      partitions: ps.map((partitionIndex) => ({ partitionIndex, timestamp })),
    })),
  });
  for (const t of listed) for (const p of t.partitions) out.set(key(t.name, p.partitionIndex), p.offset);
  return out;
}

async function committedOffsets(admin: Admin, group: string): Promise<Map<string, bigint>> {
  const [result] = await admin.listConsumerGroupOffsets({ groups: [group] });
  const out = new Map<string, bigint>();
  for (const t of result?.topics ?? [])
    for (const p of t.partitions)
      if (p.committedOffset >= 0n) out.set(key(t.name, p.partitionIndex), p.committedOffset);
  return out;
}

/** The group, classic or KIP-848; state Dead when neither protocol knows it. */
async function describeGroup(c: Context, group: string): Promise<GroupView> {
  const [found] = await c.admin.findCoordinator({ keyType: GROUP_KEY_TYPE, keys: [group] });
  const coordinator = found ? { id: found.nodeId, host: found.host, port: found.port } : null;
  const classic = (await c.admin.describeGroups({ groups: [group] })).get(group);
  if (classic && classic.state !== 'DEAD')
    return {
      group,
      state: stateName(classic.state),
      assignor: classic.protocol,
      coordinator,
      members: [...classic.members.values()].map((m) => ({
        memberId: m.id,
        instanceId: m.groupInstanceId ?? null,
        host: m.clientHost,
        clientId: m.clientId,
        assignment: [...(m.assignments?.values() ?? [])].map((a) => [a.topic, a.partitions]),
      })),
      groupEpoch: null,
      assignmentEpoch: null,
    };
  // DescribeGroups answers Dead for KIP-848 groups: ConsumerGroupDescribe knows them.
  const consumerGroup = await describeConsumerGroup(c.admin, c.bootstrap, group, c.security);
  if (!consumerGroup)
    return { group, state: 'Dead', assignor: '', coordinator, members: [], groupEpoch: null, assignmentEpoch: null };
  return {
    group,
    state: stateName(consumerGroup.state),
    assignor: consumerGroup.assignor,
    coordinator,
    members: consumerGroup.members.map((m) => ({
      memberId: m.memberId,
      instanceId: null,
      host: m.clientHost,
      clientId: m.clientId,
      assignment: m.assignment.map((a) => [a.topic, a.partitions]),
    })),
    groupEpoch: consumerGroup.groupEpoch,
    assignmentEpoch: consumerGroup.assignmentEpoch,
  };
}

/**
 * Kafka's note before a group's table (shouldPrintMemberState): on standard error for an empty or rebalancing
 * group, on standard output for a group that does not exist. Returns whether the table follows.
 */
function groupNote(view: GroupView, rows: number, out: string[], err: string[]): boolean {
  switch (view.state) {
    case 'Dead':
      out.push('', `Error: Consumer group '${view.group}' does not exist.`);
      return false;
    case 'Empty':
      err.push('', `Consumer group '${view.group}' has no active members.`);
      break;
    case 'Stable':
      break;
    default:
      err.push('', `Warning: Consumer group '${view.group}' is rebalancing.`);
  }
  return rows > 0;
}

/** `--describe [--offsets]`: Kafka's partition table, members with most partitions first, then the unowned. */
async function describeOffsets(c: Context, view: GroupView, out: string[], err: string[]): Promise<void> {
  const committed = await committedOffsets(c.admin, view.group);
  const owned: Array<{ key: string; member: MemberView }> = [];
  const members = view.members
    .map((m) => ({ m, count: m.assignment.reduce((n, [, ps]) => n + ps.length, 0) }))
    .filter((x) => x.count > 0)
    .sort((a, b) => b.count - a.count);
  for (const { m } of members) {
    const keys = m.assignment.flatMap(([topic, ps]) => ps.map((p) => key(topic, p))).sort(byTopicPartition);
    for (const k of keys) owned.push({ key: k, member: m });
  }
  const ownedKeys = new Set(owned.map((o) => o.key));
  const unowned = [...committed.keys()].filter((k) => !ownedKeys.has(k)).sort(byTopicPartition);
  const ends = await logOffsets(c.admin, [...ownedKeys, ...unowned], LATEST);
  const rows = [...owned, ...unowned.map((k) => ({ key: k, member: null }))].map(({ key: k, member }) => {
    const [topic, partition] = splitKey(k);
    const current = committed.get(k);
    const end = ends.get(k);
    return [
      view.group,
      topic,
      String(partition),
      current === undefined ? MISSING : String(current),
      end === undefined ? MISSING : String(end),
      current === undefined || end === undefined ? MISSING : String(end - current),
      member?.memberId ?? MISSING,
      member?.host ?? MISSING,
      member?.clientId ?? MISSING,
    ];
  });
  if (!groupNote(view, rows.length, out, err)) return;
  const header = ['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID', 'HOST'];
  const widths = [
    Math.max(15, ...rows.map((r) => r[0]!.length)),
    Math.max(15, ...rows.map((r) => r[1]!.length)),
    10,
    15,
    15,
    15,
    Math.max(15, ...rows.map((r) => r[6]!.length)),
    Math.max(15, ...rows.map((r) => r[7]!.length)),
  ];
  out.push('', javaColumns(widths, [...header, 'CLIENT-ID']), ...rows.map((r) => javaColumns(widths, r)));
}

/** `--describe --members [--verbose]`: Kafka's member table (ASSIGNMENT as topic(p,p) with --verbose). */
function describeMembers(view: GroupView, verbose: boolean, out: string[], err: string[]): void {
  if (!groupNote(view, view.members.length, out, err)) return;
  const withInstance = view.members.some((m) => m.instanceId);
  const rows = view.members.map((m) => {
    const count = m.assignment.reduce((n, [, ps]) => n + ps.length, 0);
    const assignment = m.assignment
      .filter(([, ps]) => ps.length > 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([topic, ps]) => `${topic}(${[...ps].sort((a, b) => a - b).join(',')})`)
      .join(', ');
    return [
      view.group,
      m.memberId,
      ...(withInstance ? [m.instanceId ?? ''] : []),
      m.host,
      m.clientId,
      String(count),
      ...(verbose ? [assignment || MISSING] : []),
    ];
  });
  const header = [
    'GROUP',
    'CONSUMER-ID',
    ...(withInstance ? ['GROUP-INSTANCE-ID'] : []),
    'HOST',
    'CLIENT-ID',
    '#PARTITIONS',
    ...(verbose ? ['ASSIGNMENT'] : []),
  ];
  // Every column but #PARTITIONS and ASSIGNMENT is as wide as its longest value (at least 15, 17 for the
  // instance id), as Kafka's printf formats pad them.
  const widths = header.map((h, i) => {
    if (h === '#PARTITIONS') return 15;
    if (h === 'ASSIGNMENT') return 0;
    return Math.max(h === 'GROUP-INSTANCE-ID' ? 17 : 15, ...rows.map((r) => r[i]!.length));
  });
  // Kafka's format ends the columns with a space, and --verbose's ASSIGNMENT follows it.
  const line = (cells: string[]) => javaColumns(widths, cells) + (verbose ? '' : ' ');
  out.push('', line(header), ...rows.map(line));
}

/** `--describe --state [--verbose]`: Kafka's one-row state table. */
function describeState(view: GroupView, verbose: boolean, out: string[], err: string[]): void {
  if (!groupNote(view, 1, out, err)) return;
  const coordinator = view.coordinator
    ? `${view.coordinator.host}:${view.coordinator.port}  (${view.coordinator.id})`
    : MISSING;
  const groupWidth = Math.max(15, view.group.length);
  const coordinatorWidth = Math.max(25, coordinator.length);
  const row = [view.group, coordinator, view.assignor || MISSING, view.state];
  const header = ['GROUP', 'COORDINATOR (ID)', 'ASSIGNMENT-STRATEGY', 'STATE'];
  if (verbose) {
    const widths = [groupWidth, coordinatorWidth, 20, 20, 15, 25];
    const epochs = [view.groupEpoch, view.assignmentEpoch].map((e) => (e === null ? MISSING : String(e)));
    out.push(
      '',
      javaColumns(widths, [...header, 'GROUP-EPOCH', 'TARGET-ASSIGNMENT-EPOCH', '#MEMBERS']),
      javaColumns(widths, [...row, ...epochs, String(view.members.length)]),
    );
  } else {
    const widths = [groupWidth, coordinatorWidth, 20, 20];
    out.push(
      '',
      javaColumns(widths, [...header, '#MEMBERS']),
      javaColumns(widths, [...row, String(view.members.length)]),
    );
  }
}

/** Every group, or those in the given states; the library's ListGroups sends the state filter. */
async function listGroupIds(admin: Admin): Promise<string[]> {
  return [...(await admin.listGroups()).keys()].sort();
}

/** Kafka's GroupType names of the types --list --type accepts. */
const CONSUMER_GROUP_TYPES = ['Classic', 'Consumer'];

/** A --state or --type list (names in any case), as the names Kafka prints; null when none is given. */
function nameFilter(text: string, valid: readonly string[], what: string): Set<string> | null {
  if (text === '') return null;
  const wanted = new Set<string>();
  for (const s of text.split(',')) {
    const name = valid.find((x) => x.toLowerCase() === s.trim().toLowerCase());
    if (!name) throw new UsageError(`Invalid ${what} list '${text}'. Valid ${what}s are: ${valid.join(', ')}`);
    wanted.add(name);
  }
  return wanted;
}

/** `--list`: the ids, or Kafka's GROUP [TYPE] [STATE] table with --type and --state (each may filter). */
async function list(c: Context): Promise<string> {
  const listed = await c.admin.listGroups();
  const withState = c.flags.values.has('state');
  const withType = c.flags.values.has('type');
  if (!withState && !withType) return [...listed.keys()].sort().join('\n');
  const states = withState ? nameFilter(c.flags.values.get('state')!, CONSUMER_GROUP_STATES, 'state') : null;
  const types = withType ? nameFilter(c.flags.values.get('type')!, CONSUMER_GROUP_TYPES, 'type') : null;
  const typeName = (t: string) => CONSUMER_GROUP_TYPES.find((x) => x.toLowerCase() === t.toLowerCase()) ?? 'Unknown';
  const rows = [...listed.values()]
    .filter((g) => (!states || states.has(stateName(g.state))) && (!types || types.has(typeName(g.groupType))))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((g) => [g.id, ...(withType ? [typeName(g.groupType)] : []), ...(withState ? [stateName(g.state)] : [])]);
  // Kafka's widths: the longest id (at least 15) plus 10, then 20 for each of TYPE and STATE.
  const widths = [Math.max(15, ...rows.map((r) => r[0]!.length)) + 10, 20, 20];
  const header = ['GROUP', ...(withType ? ['TYPE'] : []), ...(withState ? ['STATE'] : [])];
  return [header, ...rows].map((r) => javaColumns(widths, r)).join('\n');
}

async function describe(c: Context, groups: string[]): Promise<{ out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const verbose = c.flags.switches.has('verbose');
  for (const group of [...groups].sort()) {
    const view = await describeGroup(c, group);
    if (c.flags.switches.has('members')) describeMembers(view, verbose, out, err);
    else if (c.flags.values.has('state')) describeState(view, verbose, out, err);
    else await describeOffsets(c, view, out, err);
  }
  return { out, err };
}

/** Kafka's --to-datetime (Utils.getDateTime): local time unless a zone (Z, +hh:mm, +hhmm) is given. */
function parseDatetime(text: string): bigint {
  const ms = Date.parse(text.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.test(text) || Number.isNaN(ms))
    throw new UsageError(`--to-datetime must look like YYYY-MM-DDTHH:mm:SS.sss, not '${text}'`);
  return BigInt(ms);
}

/** Java's Duration.parse for --by-duration: PnDTnHnMn.nS, each part optional, with an optional sign. */
export function parseDurationMs(text: string): number {
  const m = /^([-+]?)P(?:([-+]?\d+)D)?(?:T(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?(?:([-+]?\d+)(?:[.,](\d{0,9}))?S)?)?$/i.exec(
    text.trim(),
  );
  if (!m || (m[2] ?? m[3] ?? m[4] ?? m[5]) === undefined || /T$/i.test(text.trim()))
    throw new UsageError(`--by-duration must look like PnDTnHnMnS, not '${text}'`);
  const [, sign, days, hours, minutes, seconds, fraction] = m;
  const secondsSign = seconds?.startsWith('-') ? -1 : 1;
  const ms =
    Number(days ?? 0) * 86_400_000 +
    Number(hours ?? 0) * 3_600_000 +
    Number(minutes ?? 0) * 60_000 +
    Number(seconds ?? 0) * 1000 +
    secondsSign * Math.floor(Number(`0.${fraction ?? '0'}`) * 1000);
  return sign === '-' ? -ms : ms;
}

function integerOffset(text: string, flag: string): bigint {
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`--${flag} must be an integer, not '${text}'`);
  return BigInt(text.trim());
}

/** Kafka's topic argument: a topic (all its partitions) or topic:p,p. */
function parseTopicArg(arg: string): { topic: string; partitions: number[] | null } {
  if (!arg.includes(':')) return { topic: arg, partitions: null };
  const parts = arg.split(':');
  if (parts.length !== 2) throw new UsageError(`Invalid topic arg '${arg}', expected topic name and partitions`);
  const partitions = parts[1]!.split(',').map((p) => {
    if (!/^\d+$/.test(p)) throw new UsageError(`Invalid partition '${p}' specified in topic arg '${arg}''`);
    return Number(p);
  });
  return { topic: parts[0]!, partitions };
}

/** The partitions of --topic arguments; a topic without partitions means all of them, which must exist. */
async function topicPartitions(admin: Admin, args: string[]): Promise<string[]> {
  const parsed = args.map(parseTopicArg);
  const whole = parsed.filter((p) => p.partitions === null).map((p) => p.topic);
  const counts = new Map<string, number>();
  if (whole.length > 0) {
    const metadata = await admin.metadata({ topics: whole });
    for (const t of whole) {
      const count = metadata.topics.get(t)?.partitionsCount;
      if (count === undefined) throw new ToolError(`This server does not host this topic-partition: topic '${t}'`);
      counts.set(t, count);
    }
  }
  return parsed.flatMap((p) =>
    (p.partitions ?? Array.from({ length: counts.get(p.topic)! }, (_, i) => i)).map((i) => key(p.topic, i)),
  );
}

/** A reset plan read from Kafka's CSV: topic,partition,offset for one group, or group,topic,partition,offset. */
function parseResetPlan(text: string, groups: string[]): Map<string, Map<string, bigint>> {
  const plan = new Map<string, Map<string, bigint>>();
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const singleGroup = groups.length === 1 && lines[0]?.split(',').length === 3;
  for (const line of lines) {
    const cells = line.trim().split(',');
    const [group, topic, partition, offset] = singleGroup ? [groups[0]!, ...cells] : cells;
    if (cells.length !== (singleGroup ? 3 : 4) || !/^\d+$/.test(partition ?? '') || !/^-?\d+$/.test(offset ?? ''))
      throw new UsageError(`--from-file: cannot read the line '${line}'`);
    const forGroup = plan.get(group!) ?? new Map<string, bigint>();
    forGroup.set(key(topic!, Number(partition)), BigInt(offset!));
    plan.set(group!, forGroup);
  }
  return plan;
}

/** The new offset of each partition of one group, as Kafka's GroupOffsetsResetter computes it. */
async function planReset(
  c: Context,
  group: string,
  plan: Map<string, Map<string, bigint>> | null,
  warnings: string[],
): Promise<Map<string, bigint>> {
  const { admin, flags } = c;
  const committed = await committedOffsets(admin, group);
  let partitions: string[];
  if (flags.switches.has('all-topics')) partitions = [...committed.keys()];
  else if (flags.repeated.has('topic')) partitions = await topicPartitions(admin, flags.repeated.get('topic')!);
  else if (plan) partitions = [];
  else throw new UsageError('One of the reset scopes should be defined: --all-topics, --topic.');

  // Kafka moves an offset outside the log's range to its nearest end, with a warning.
  const clamp = async (requested: Map<string, bigint>) => {
    const start = await logOffsets(admin, requested.keys(), EARLIEST);
    const end = await logOffsets(admin, requested.keys(), LATEST);
    const out = new Map<string, bigint>();
    for (const [k, o] of requested) {
      const [topic, p] = splitKey(k);
      const hi = end.get(k);
      const lo = start.get(k);
      if (hi !== undefined && o > hi) {
        warnings.push(
          `New offset (${o}) is higher than latest offset for topic partition ${topic}-${p}. Value will be set to ${hi}.`,
        );
        out.set(k, hi);
      } else if (lo !== undefined && o < lo) {
        warnings.push(
          `New offset (${o}) is lower than earliest offset for topic partition ${topic}-${p}. Value will be set to ${lo}.`,
        );
        out.set(k, lo);
      } else out.set(k, o);
    }
    return out;
  };
  const byTime = async (timestamp: bigint) => {
    const at = await logOffsets(admin, partitions, timestamp);
    const end = await logOffsets(admin, partitions, LATEST);
    const out = new Map<string, bigint>();
    for (const k of partitions) {
      const o = at.get(k) ?? -1n;
      if (o < 0n) {
        const [topic, p] = splitKey(k);
        // Kafka's tool prints this on standard output, before the table.
        warnings.push(`\nWarn: Partition ${p} from topic ${topic} is empty. Falling back to latest known offset.`);
      }
      out.set(k, o < 0n ? (end.get(k) ?? 0n) : o);
    }
    return out;
  };

  if (flags.values.has('to-offset')) {
    const n = integerOffset(flags.values.get('to-offset')!, 'to-offset');
    return clamp(new Map(partitions.map((k) => [k, n])));
  }
  if (flags.switches.has('to-earliest')) return logOffsets(admin, partitions, EARLIEST);
  if (flags.switches.has('to-latest')) return logOffsets(admin, partitions, LATEST);
  if (flags.values.has('shift-by')) {
    const n = integerOffset(flags.values.get('shift-by')!, 'shift-by');
    const requested = new Map<string, bigint>();
    for (const k of partitions) {
      const current = committed.get(k);
      if (current === undefined) {
        const [topic, p] = splitKey(k);
        throw new ToolError(
          `Cannot shift offset for partition ${topic}-${p} since there is no current committed offset`,
        );
      }
      requested.set(k, current + n);
    }
    return clamp(requested);
  }
  if (flags.values.has('to-datetime')) return byTime(parseDatetime(flags.values.get('to-datetime')!));
  if (flags.values.has('by-duration'))
    return byTime(BigInt(Date.now() - parseDurationMs(flags.values.get('by-duration')!)));
  if (plan) {
    const forGroup = plan.get(group);
    if (!forGroup) {
      warnings.push(`\nError: No reset plan for group ${group} found.`);
      return new Map();
    }
    return clamp(forGroup);
  }
  // --to-current: the committed offset, or the log end where there is none.
  const end = await logOffsets(
    admin,
    partitions.filter((k) => !committed.has(k)),
    LATEST,
  );
  return new Map(partitions.map((k) => [k, committed.get(k) ?? end.get(k) ?? 0n]));
}

async function resetOffsets(c: Context, groups: string[]): Promise<{ out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const file = c.flags.values.get('from-file');
  let plan: Map<string, Map<string, bigint>> | null = null;
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new ToolError(`cannot read --from-file ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    plan = parseResetPlan(text, groups);
  }
  const results = new Map<string, Map<string, bigint>>();
  for (const group of groups) {
    const view = await describeGroup(c, group);
    if (view.state !== 'Empty' && view.state !== 'Dead')
      throw new ToolError(
        `Assignments can only be reset if the group '${group}' is inactive, but the current state is ${view.state}.`,
      );
    const warnings: string[] = [];
    const offsets = await planReset(c, group, plan, warnings);
    for (const w of warnings) (w.startsWith('\n') ? out : err).push(w.startsWith('\n') ? w.slice(1) : `WARN ${w}`);
    if (c.flags.switches.has('execute') && offsets.size > 0) {
      await c.admin.alterConsumerGroupOffsets({
        groupId: group,
        topics: [...groupByTopic(offsets.keys())].map(([name, ps]) => ({
          name,
          partitionOffsets: ps.map((partition) => ({ partition, offset: offsets.get(key(name, partition))! })),
        })),
      });
    }
    results.set(group, offsets);
  }
  if (c.flags.switches.has('export')) {
    // Kafka's CSV: the group column only when more than one group was named.
    const withGroup = (c.flags.repeated.get('group') ?? []).length !== 1;
    for (const [group, offsets] of results)
      for (const k of [...offsets.keys()].sort(byTopicPartition)) {
        const [topic, p] = splitKey(k);
        out.push(`${withGroup ? `${group},` : ''}${topic},${p},${offsets.get(k)}`);
      }
    return { out, err };
  }
  const rows: string[][] = [];
  for (const [group, offsets] of results)
    for (const k of [...offsets.keys()].sort(byTopicPartition)) {
      const [topic, p] = splitKey(k);
      rows.push([group, topic, String(p), String(offsets.get(k))]);
    }
  if (rows.length > 0) {
    const widths = [Math.max(15, ...rows.map((r) => r[0]!.length)), Math.max(15, ...rows.map((r) => r[1]!.length)), 10];
    out.push(
      '',
      javaColumns(widths, ['GROUP', 'TOPIC', 'PARTITION', 'NEW-OFFSET']),
      ...rows.map((r) => javaColumns(widths, r)),
    );
  }
  return { out, err };
}

/** Kafka's messages for OffsetDelete's group-level errors. */
const OFFSET_DELETE_GROUP_ERRORS: Record<string, string> = {
  INVALID_GROUP_ID: 'The configured groupId is invalid.',
  GROUP_ID_NOT_FOUND: 'The group id does not exist.',
  GROUP_AUTHORIZATION_FAILED: 'Group authorization failed.',
  NON_EMPTY_GROUP: 'The group is not empty.',
};
/** Kafka's messages for OffsetDelete's partition-level errors. */
const OFFSET_DELETE_PARTITION_ERRORS: Record<string, string> = {
  GROUP_SUBSCRIBED_TO_TOPIC: 'The consumer group is actively subscribed to the topic',
  UNKNOWN_TOPIC_OR_PARTITION: 'This server does not host this topic-partition.',
  TOPIC_AUTHORIZATION_FAILED: 'Topic authorization failed.',
};

interface ProtocolErrorLike {
  apiId?: string;
  errors?: ProtocolErrorLike[];
  response?: { topics?: Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }> };
  path?: string;
}

/** The protocol error names inside a client error (the library wraps each failed field in one). */
function protocolErrors(error: unknown, depth = 0): Array<{ apiId: string; path: string }> {
  const e = error as ProtocolErrorLike;
  if (!e || typeof e !== 'object' || depth > 5) return [];
  const own = e.apiId ? [{ apiId: e.apiId, path: e.path ?? '' }] : [];
  return [...own, ...(e.errors ?? []).flatMap((inner) => protocolErrors(inner, depth + 1))];
}

async function deleteOffsets(c: Context, group: string): Promise<{ out: string[]; err: string[] }> {
  const out: string[] = [];
  const partitions = await topicPartitions(c.admin, c.flags.repeated.get('topic') ?? []);
  const byTopic = groupByTopic(partitions);
  const status = new Map<string, string>(partitions.map((k) => [k, 'Successful']));
  let topLevel: string | null = null;
  try {
    await c.admin.deleteConsumerGroupOffsets({
      groupId: group,
      topics: [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
    });
  } catch (e) {
    const errors = protocolErrors(e);
    if (errors.length === 0) throw e;
    const groupError = errors.find((x) => OFFSET_DELETE_GROUP_ERRORS[x.apiId]);
    if (groupError) {
      topLevel = `Error: ${OFFSET_DELETE_GROUP_ERRORS[groupError.apiId]}`;
      for (const k of partitions) status.set(k, `Error: ${OFFSET_DELETE_GROUP_ERRORS[groupError.apiId]}`);
    } else {
      topLevel = 'Error: Encountered some partition-level error, see the follow-up details.';
      // The library names the failed field by its path: /topics/<i>/partitions/<j>.
      const topics = [...byTopic];
      for (const x of errors) {
        const m = /\/topics\/(\d+)\/partitions\/(\d+)/.exec(x.path);
        const topic = m ? topics[Number(m[1])] : undefined;
        const partition = topic ? topic[1][Number(m![2])] : undefined;
        const message = `Error: ${OFFSET_DELETE_PARTITION_ERRORS[x.apiId] ?? x.apiId}`;
        if (topic && partition !== undefined) status.set(key(topic[0], partition), message);
        else for (const k of partitions) status.set(k, message);
      }
    }
  }
  out.push(topLevel ? `\n${topLevel}` : `Request succeeded for deleting offsets from group ${group}.`);
  const keys = [...status.keys()].sort((a, b) => {
    // Kafka sorts by topic name and partition concatenated as text.
    const [ta, pa] = splitKey(a);
    const [tb, pb] = splitKey(b);
    const sa = `${ta}${pa}`;
    const sb = `${tb}${pb}`;
    return sa < sb ? -1 : sa > sb ? 1 : 0;
  });
  const widths = [Math.max(15, ...keys.map((k) => splitKey(k)[0].length)), 10, 15];
  out.push('', javaColumns(widths, ['TOPIC', 'PARTITION', 'STATUS']));
  for (const k of keys) {
    const [topic, p] = splitKey(k);
    out.push(javaColumns(widths, [topic, String(p), status.get(k)!]));
  }
  return { out, err: [] };
}

async function deleteGroups(c: Context, groups: string[]): Promise<string[]> {
  await c.admin.deleteGroups({ groups });
  return [`Deletion of requested consumer groups (${groups.map((g) => `'${g}'`).join(', ')}) was successful.`];
}

/** Kafka's checks of the command line (ConsumerGroupCommandOptions.checkArgs), before any connection. */
function checkArgs(flags: ParsedFlags): (typeof ACTIONS)[number] {
  const actions = ACTIONS.filter((a) => flags.switches.has(a));
  if (actions.length !== 1)
    throw new UsageError(`Command must include exactly one action: ${ACTIONS.map((a) => `--${a}`).join(', ')}`);
  const action = actions[0]!;
  const hasGroups = (flags.repeated.get('group') ?? []).length > 0 || flags.switches.has('all-groups');
  const scope = '--all-groups, --group';
  if (action === 'describe') {
    if (!hasGroups) throw new UsageError(`Option --describe takes one of these options: ${scope}`);
    const sub = ['members', 'offsets', 'state'].filter((s) => flags.switches.has(s) || flags.values.has(s));
    if (sub.length > 1)
      throw new UsageError('Option --describe takes at most one of these options: --members, --offsets, --state');
    if (flags.values.get('state')) throw new UsageError('Option --describe does not take a value for --state');
  } else {
    for (const s of ['members', 'offsets', 'verbose'])
      if (flags.switches.has(s)) throw new UsageError(`Option --${s} can be used only with --describe`);
    if (flags.values.has('state') && action !== 'list')
      throw new UsageError('Option --state can be used only with --describe or --list');
  }
  if (flags.values.has('type') && action !== 'list') {
    throw new UsageError('Option --type can be used only with --list');
  }
  if (action === 'delete') {
    if (!hasGroups) throw new UsageError(`Option --delete takes one of these options: ${scope}`);
    if (flags.repeated.has('topic'))
      throw new UsageError('The consumer does not support topic-specific offset deletion from a consumer group.');
  }
  if (action === 'delete-offsets') {
    if ((flags.repeated.get('group') ?? []).length !== 1 || !flags.repeated.has('topic'))
      throw new UsageError('Option --delete-offsets takes the following options: --group, --topic');
  }
  if (action === 'reset-offsets') {
    if (flags.switches.has('dry-run') && flags.switches.has('execute'))
      throw new UsageError('Option --reset-offsets only accepts one of --execute and --dry-run');
    if (!hasGroups) throw new UsageError(`Option --reset-offsets takes one of these options: ${scope}`);
    const scenarios = RESET_SCENARIOS.filter((s) => flags.switches.has(s) || flags.values.has(s));
    if (scenarios.length !== 1)
      throw new UsageError(
        `Option --reset-offsets takes exactly one of these options: ${RESET_SCENARIOS.map((s) => `--${s}`).join(', ')}`,
      );
    if (flags.repeated.has('topic') && flags.switches.has('all-topics'))
      throw new UsageError('Option --reset-offsets takes at most one of these options: --all-topics, --topic');
    for (const flag of ['to-offset', 'shift-by']) {
      const value = flags.values.get(flag);
      if (value !== undefined) integerOffset(value, flag);
    }
    const datetime = flags.values.get('to-datetime');
    if (datetime !== undefined) parseDatetime(datetime);
    const duration = flags.values.get('by-duration');
    if (duration !== undefined) parseDurationMs(duration);
  } else {
    for (const s of [...RESET_SCENARIOS, 'dry-run', 'execute', 'export', 'all-topics'])
      if (flags.switches.has(s) || flags.values.has(s))
        throw new UsageError(`Option --${s} can be used only with --reset-offsets`);
  }
  if (flags.switches.has('all-groups') && flags.repeated.has('group'))
    throw new UsageError(`Option --${action} takes at most one of these options: ${scope}`);
  return action;
}

/** `samsa consumer-groups`: Kafka's kafka-consumer-groups.sh. Returns the exit code. */
export async function runConsumerGroups(argv: string[]): Promise<number> {
  let flags: ParsedFlags;
  let bootstrap: string[];
  let security: ClientSecurity;
  let action: (typeof ACTIONS)[number];
  let timeoutMs: number;
  try {
    flags = parseFlags(argv, FLAGS);
    bootstrap = bootstrapServers(flags);
    action = checkArgs(flags);
    timeoutMs = integerFlag(flags, 'timeout', 1) ?? DEFAULT_TIMEOUT_MS;
    security = await commandConfigSecurity(flags);
  } catch (e) {
    return usageExit('consumer-groups', CONSUMER_GROUPS_USAGE, e);
  }
  if (action === 'reset-offsets' && !flags.switches.has('dry-run') && !flags.switches.has('execute'))
    console.error(
      'WARN: No action will be performed as the --execute option is missing. In a future major release, the default behavior of this command will be to prompt the user before executing the reset rather than doing a dry run. You should add the --dry-run option explicitly if you are scripting this command and want to keep the current default behavior without prompting.',
    );
  const admin = await adminClient(bootstrap, security, timeoutMs);
  const c: Context = { admin, bootstrap, security, flags };
  try {
    const groups = flags.switches.has('all-groups') ? await listGroupIds(admin) : (flags.repeated.get('group') ?? []);
    let result: { out: string[]; err: string[] };
    if (action === 'list') result = { out: [await list(c)].filter((l) => l !== ''), err: [] };
    else if (action === 'describe') result = await describe(c, groups);
    else if (action === 'reset-offsets') result = await resetOffsets(c, groups);
    else if (action === 'delete-offsets') result = await deleteOffsets(c, groups[0]!);
    else result = { out: groups.length > 0 ? await deleteGroups(c, groups) : [], err: [] };
    if (result.err.length > 0) console.error(result.err.join('\n'));
    if (result.out.length > 0) console.log(result.out.join('\n'));
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
