import { readFile } from 'node:fs/promises';
import type { Admin } from '@platformatic/kafka';
import { placeReplicas } from '../../cluster/replica-placement.js';
import { ErrorCode, errorInfo } from '../../protocol/errors.js';
import { alterPartitionReassignmentsApi } from '../../protocol/generated/apis/alter-partition-reassignments.js';
import { listPartitionReassignmentsApi } from '../../protocol/generated/apis/list-partition-reassignments.js';
import { bootstrapServers, FAILURE_EXIT_CODE, type ParsedFlags, parseFlags, UsageError, usageExit } from './args.js';
import { openController } from './broker-request.js';
import { adminClient, commandConfigSecurity, describeFailure, ToolError } from './client.js';
import { type ClientSecurity, COMMAND_CONFIG_HELP } from './client-security.js';
import { incrementalAlterConfigs } from './configs.js';

const REASSIGN_USAGE = `usage: samsa reassign-partitions --bootstrap-server HOST:PORT
         (--generate --topics-to-move-json-file FILE --broker-list 1,2,3 [--disable-rack-aware]
          | --execute --reassignment-json-file FILE [--throttle BYTES_PER_SEC] [--additional]
          | --verify --reassignment-json-file FILE [--preserve-throttles]
          | --cancel --reassignment-json-file FILE [--preserve-throttles] | --list)

Moves partition replicas between brokers (as Kafka's kafka-reassign-partitions.sh). --generate proposes an
assignment of the topics in FILE ({"topics": [{"topic": "orders"}], "version": 1}) over the brokers listed;
--execute starts the moves of a reassignment file ({"version": 1, "partitions": [{"topic": "orders",
"partition": 0, "replicas": [2, 3]}]}), printing the current assignment to roll back with; --verify says which
are complete; --cancel stops those in progress, back to their replicas before; --list shows those in progress.
--throttle bounds the replication traffic of the moves (KIP-73): it sets leader.replication.throttled.rate and
follower.replication.throttled.rate on the brokers involved and the throttled-replicas lists on the moving topics;
--verify removes them once every move is complete (unless --preserve-throttles), as does --cancel.
--execute refuses to start while other moves are in progress, unless --additional is given (also the way to
change the throttle of moves in progress, by executing their file again).
--replica-alter-log-dirs-throttle is ignored: Samsa does not move replicas between log dirs.

${COMMAND_CONFIG_HELP}`;

const FLAGS = {
  'bootstrap-server': 'value',
  'command-config': 'value',
  generate: 'switch',
  execute: 'switch',
  verify: 'switch',
  cancel: 'switch',
  list: 'switch',
  'topics-to-move-json-file': 'value',
  'reassignment-json-file': 'value',
  'broker-list': 'value',
  'disable-rack-aware': 'switch',
  // KIP-73: the moves' replication throttle (bytes/s), set by --execute and cleared by --verify.
  throttle: 'value',
  'replica-alter-log-dirs-throttle': 'value',
  // Kafka's: --execute while other moves are in progress, adding to them.
  additional: 'switch',
  // Kafka's: throttles are cleared by --verify and --cancel unless this is given.
  'preserve-throttles': 'switch',
} as const;

const ACTIONS = ['generate', 'execute', 'verify', 'cancel', 'list'] as const;
type Action = (typeof ACTIONS)[number];

/** The version of Kafka's reassignment and topics-to-move JSON files. */
const JSON_VERSION = 1;
/** The version of AlterPartitionReassignments and ListPartitionReassignments sent (0: the only one). */
const REASSIGNMENT_API_VERSION = 0;
const REASSIGNMENT_TIMEOUT_MS = 30_000;

interface PartitionReplicas {
  topic: string;
  partition: number;
  replicas: number[];
}

function parseJson(text: string, what: string): Record<string, unknown> {
  try {
    const json = JSON.parse(text) as unknown;
    if (json && typeof json === 'object') return json as Record<string, unknown>;
  } catch (e) {
    throw new ToolError(`the ${what} is not JSON: ${(e as Error).message}`);
  }
  throw new ToolError(`the ${what} is not a JSON object`);
}

function checkVersion(json: Record<string, unknown>): void {
  if (json['version'] !== undefined && json['version'] !== JSON_VERSION) {
    throw new ToolError(`Not supported version field value ${String(json['version'])}`);
  }
}

/** Kafka's parsePartitionReassignmentData, with its checks: no partition twice, no replica twice. */
export function parseReassignmentJson(text: string): PartitionReplicas[] {
  const json = parseJson(text, 'reassignment json file');
  checkVersion(json);
  const partitions = json['partitions'];
  if (!Array.isArray(partitions)) throw new ToolError('The reassignment json file has no partitions array');
  const out = partitions.map((entry: unknown) => {
    const e = entry as { topic?: unknown; partition?: unknown; replicas?: unknown; log_dirs?: unknown };
    if (
      typeof e.topic !== 'string' ||
      !Number.isInteger(e.partition) ||
      !Array.isArray(e.replicas) ||
      !e.replicas.every((r) => Number.isInteger(r))
    ) {
      throw new ToolError(`each partition needs a topic, a partition and replicas, not ${JSON.stringify(entry)}`);
    }
    if (Array.isArray(e.log_dirs) && e.log_dirs.some((d) => d !== 'any')) {
      throw new ToolError('moving replicas between log directories is not supported (log_dirs must be "any")');
    }
    return { topic: e.topic, partition: e.partition as number, replicas: e.replicas as number[] };
  });
  const seen = new Set<string>();
  for (const p of out) {
    const name = `${p.topic}-${p.partition}`;
    if (seen.has(name)) throw new ToolError(`Cannot reassign a partition more than once: ${name}`);
    seen.add(name);
    if (new Set(p.replicas).size !== p.replicas.length) {
      throw new ToolError(`Partition replica lists may not contain duplicate entries: ${name}`);
    }
  }
  if (out.length === 0) throw new ToolError('Partition reassignment list cannot be empty');
  return out;
}

/** Kafka's formatAsReassignmentJson: sorted by topic and partition, each replica's log dir "any". */
export function reassignmentJson(partitions: readonly PartitionReplicas[]): string {
  const sorted = [...partitions].sort((a, b) =>
    a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
  );
  return JSON.stringify({
    version: JSON_VERSION,
    partitions: sorted.map((p) => ({
      topic: p.topic,
      partition: p.partition,
      replicas: p.replicas,
      log_dirs: p.replicas.map(() => 'any'),
    })),
  });
}

const name = (p: { topic: string; partition: number }) => `${p.topic}-${p.partition}`;

const LEADER_THROTTLED_RATE = 'leader.replication.throttled.rate';
const FOLLOWER_THROTTLED_RATE = 'follower.replication.throttled.rate';
const LOG_DIRS_THROTTLED_RATE = 'replica.alter.log.dirs.io.max.bytes.per.second';
const LEADER_THROTTLED_REPLICAS = 'leader.replication.throttled.replicas';
const FOLLOWER_THROTTLED_REPLICAS = 'follower.replication.throttled.replicas';

/**
 * Kafka's calculateLeaderThrottles / calculateFollowerThrottles: per topic, the moving partitions' current
 * replicas (which may lead the copy) as the leader list, and the replicas each move adds as the follower list,
 * both `partition:brokerId`, comma-separated.
 */
export function throttledReplicas(
  current: readonly PartitionReplicas[],
  target: readonly PartitionReplicas[],
): Map<string, { leader: string; follower: string }> {
  const lists = new Map<string, { leader: string[]; follower: string[] }>();
  for (const p of target) {
    const before = current.find((c) => name(c) === name(p))?.replicas ?? [];
    const added = p.replicas.filter((r) => !before.includes(r));
    if (added.length === 0 && before.length === p.replicas.length) continue;
    const entry = lists.get(p.topic) ?? { leader: [], follower: [] };
    for (const r of before) entry.leader.push(`${p.partition}:${r}`);
    for (const r of added) entry.follower.push(`${p.partition}:${r}`);
    lists.set(p.topic, entry);
  }
  const out = new Map<string, { leader: string; follower: string }>();
  for (const [topic, { leader, follower }] of lists)
    out.set(topic, { leader: leader.join(','), follower: follower.join(',') });
  return out;
}

/** Kafka's calculateReassigningBrokers: every broker a move reads from or writes to. */
export function reassigningBrokers(current: readonly PartitionReplicas[], target: readonly PartitionReplicas[]) {
  const brokers = new Set<number>();
  for (const p of target) {
    const before = current.find((c) => name(c) === name(p))?.replicas ?? [];
    if (before.length === p.replicas.length && p.replicas.every((r) => before.includes(r))) continue;
    for (const r of [...before, ...p.replicas]) brokers.add(r);
  }
  return [...brokers].sort((a, b) => a - b);
}

/** Kafka's --execute with --throttle: the rates on the brokers involved, the replica lists on the topics. */
async function setThrottles(
  admin: Admin,
  current: readonly PartitionReplicas[],
  target: readonly PartitionReplicas[],
  throttle: string,
): Promise<void> {
  for (const [topic, lists] of throttledReplicas(current, target)) {
    await incrementalAlterConfigs(admin, 'topics', topic, [
      [LEADER_THROTTLED_REPLICAS, lists.leader],
      [FOLLOWER_THROTTLED_REPLICAS, lists.follower],
    ]);
  }
  for (const broker of reassigningBrokers(current, target)) {
    await incrementalAlterConfigs(admin, 'brokers', String(broker), [
      [LEADER_THROTTLED_RATE, throttle],
      [FOLLOWER_THROTTLED_RATE, throttle],
    ]);
  }
  console.log(`The inter-broker throttle limit was set to ${throttle} B/s`);
}

/** Kafka's clearAllThrottles: the rates off every live broker, the replica lists off the file's topics. */
async function clearThrottles(admin: Admin, topics: readonly string[]): Promise<void> {
  const metadata = await admin.metadata({ topics: [], forceUpdate: true });
  const brokers = [...metadata.brokers.keys()].sort((a, b) => a - b);
  console.log(`Clearing broker-level throttles on broker${brokers.length === 1 ? '' : 's'} ${brokers.join(',')}`);
  for (const broker of brokers) {
    await incrementalAlterConfigs(
      admin,
      'brokers',
      String(broker),
      [],
      [LEADER_THROTTLED_RATE, FOLLOWER_THROTTLED_RATE, LOG_DIRS_THROTTLED_RATE],
    );
  }
  const unique = [...new Set(topics)].sort();
  console.log(`Clearing topic-level throttles on topic${unique.length === 1 ? '' : 's'} ${unique.join(',')}`);
  for (const topic of unique) {
    await incrementalAlterConfigs(admin, 'topics', topic, [], [LEADER_THROTTLED_REPLICAS, FOLLOWER_THROTTLED_REPLICAS]);
  }
}

/** --throttle's value: a non-negative long (Kafka's -1, the default, is none). */
export function parseThrottle(value: string | undefined): string | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (!/^-?\d+$/.test(text) || BigInt(text) > 2n ** 63n - 1n)
    throw new UsageError(`--throttle must be a number of bytes per second, not '${value}'`);
  return BigInt(text) < 0n ? null : text;
}

/** The replicas of every partition of `topics`, as the metadata gives them. */
async function currentReplicas(admin: Admin, topics: string[]): Promise<PartitionReplicas[]> {
  const unique = [...new Set(topics)];
  const existing = new Set(await admin.listTopics({ includeInternals: true }));
  const missing = unique.filter((t) => !existing.has(t));
  if (missing.length > 0) throw new ToolError(`Topic ${missing.join(', ')} not found`);
  const metadata = await admin.metadata({ topics: unique, forceUpdate: true });
  const out: PartitionReplicas[] = [];
  for (const topic of unique) {
    const t = metadata.topics.get(topic);
    for (const [partition, p] of t?.partitions.entries() ?? []) out.push({ topic, partition, replicas: p.replicas });
  }
  return out;
}

/** The reassignments in progress, by partition name. */
async function ongoing(admin: Admin, bootstrap: string[], security: ClientSecurity) {
  const connection = await openController(admin, bootstrap, security);
  const response = await connection
    .request(listPartitionReassignmentsApi, REASSIGNMENT_API_VERSION, {
      timeoutMs: REASSIGNMENT_TIMEOUT_MS,
      topics: null,
    })
    .finally(() => connection.close());
  if (response.errorCode !== ErrorCode.NONE) throw apiError(response.errorCode, response.errorMessage);
  const out = new Map<string, { replicas: number[]; adding: number[]; removing: number[] }>();
  for (const t of response.topics) {
    for (const p of t.partitions) {
      out.set(`${t.name}-${p.partitionIndex}`, {
        replicas: p.replicas,
        adding: p.addingReplicas,
        removing: p.removingReplicas,
      });
    }
  }
  return out;
}

function apiError(code: number, message: string | null): ToolError {
  const error = errorInfo(code)?.name ?? `error ${code}`;
  return new ToolError(message ? `${error}: ${message}` : error);
}

/** AlterPartitionReassignments; the failures by partition name. */
async function alter(
  admin: Admin,
  bootstrap: string[],
  security: ClientSecurity,
  partitions: ReadonlyArray<{ topic: string; partition: number; replicas: number[] | null }>,
): Promise<Map<string, string>> {
  const byTopic = new Map<string, Array<{ partitionIndex: number; replicas: number[] | null }>>();
  for (const p of partitions) {
    byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), { partitionIndex: p.partition, replicas: p.replicas }]);
  }
  const connection = await openController(admin, bootstrap, security);
  const response = await connection
    .request(alterPartitionReassignmentsApi, REASSIGNMENT_API_VERSION, {
      timeoutMs: REASSIGNMENT_TIMEOUT_MS,
      topics: [...byTopic].map(([topic, ps]) => ({ name: topic, partitions: ps })),
    })
    .finally(() => connection.close());
  if (response.errorCode !== ErrorCode.NONE) throw apiError(response.errorCode, response.errorMessage);
  const failures = new Map<string, string>();
  for (const t of response.responses) {
    for (const p of t.partitions) {
      if (p.errorCode !== ErrorCode.NONE)
        failures.set(`${t.name}-${p.partitionIndex}`, apiError(p.errorCode, p.errorMessage).message);
    }
  }
  return failures;
}

function failuresError(what: string, failures: Map<string, string>): ToolError {
  return new ToolError(`${what}:\n${[...failures].map(([partition, error]) => `${partition}: ${error}`).join('\n')}`);
}

async function generate(admin: Admin, flags: ParsedFlags): Promise<void> {
  const file = flags.values.get('topics-to-move-json-file');
  const brokerList = flags.values.get('broker-list');
  if (!file || !brokerList) throw new UsageError('--generate needs --topics-to-move-json-file and --broker-list');
  const brokerIds = brokerList.split(',').map((b) => {
    if (!/^\d+$/.test(b.trim())) throw new UsageError(`--broker-list must list broker ids, not '${brokerList}'`);
    return Number(b.trim());
  });
  const json = parseJson(await readFile(file, 'utf8'), 'topics-to-move json file');
  checkVersion(json);
  const topics = json['topics'];
  if (!Array.isArray(topics) || !topics.every((t) => typeof (t as { topic?: unknown }).topic === 'string')) {
    throw new ToolError('The topics-to-move json file needs a topics array of {"topic": name}');
  }
  const current = await currentReplicas(
    admin,
    topics.map((t) => (t as { topic: string }).topic),
  );
  const metadata = await admin.metadata({ topics: [] });
  const brokers = brokerIds.map((nodeId) => {
    const b = metadata.brokers.get(nodeId);
    const rack = flags.switches.has('disable-rack-aware') ? null : (b?.rack ?? null);
    return { nodeId, rack };
  });
  const proposed: PartitionReplicas[] = [];
  for (const topic of new Set(current.map((p) => p.topic))) {
    const partitions = current.filter((p) => p.topic === topic);
    const replicationFactor = partitions[0]?.replicas.length ?? 1;
    if (replicationFactor > brokers.length) {
      throw new ToolError(`Replication factor: ${replicationFactor} larger than available brokers: ${brokers.length}.`);
    }
    const placed = placeReplicas(brokers, partitions.length, replicationFactor);
    for (const p of partitions) proposed.push({ topic, partition: p.partition, replicas: placed[p.partition]! });
  }
  console.log(`Current partition replica assignment\n${reassignmentJson(current)}\n`);
  console.log(`Proposed partition reassignment configuration\n${reassignmentJson(proposed)}`);
}

/** Kafka's words when --execute finds moves in progress and --additional is not given. */
const EXISTING_REASSIGNMENT_MESSAGE =
  'Cannot execute because there is an existing partition assignment.  Use --additional to override this and ' +
  'create a new partition assignment in addition to the existing one. The --additional flag can also be used to ' +
  'change the throttle by resubmitting the current reassignment.';

async function execute(
  admin: Admin,
  bootstrap: string[],
  security: ClientSecurity,
  target: PartitionReplicas[],
  options: { throttle: string | null; additional: boolean },
): Promise<void> {
  if (!options.additional && (await ongoing(admin, bootstrap, security)).size > 0)
    throw new ToolError(EXISTING_REASSIGNMENT_MESSAGE);
  const throttle = options.throttle;
  const current = await currentReplicas(
    admin,
    target.map((p) => p.topic),
  );
  const wanted = new Set(target.map(name));
  for (const p of target) {
    if (!current.some((c) => name(c) === name(p))) throw new ToolError(`Unable to find partition: ${name(p)}`);
  }
  console.log(
    `Current partition replica assignment\n\n${reassignmentJson(current.filter((c) => wanted.has(name(c))))}\n`,
  );
  console.log('Save this to use as the --reassignment-json-file option during rollback');
  if (throttle !== null) {
    console.log(
      'Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.',
    );
    await setThrottles(admin, current, target, throttle);
  }
  const failures = await alter(admin, bootstrap, security, target);
  if (failures.size > 0) throw failuresError('Error reassigning partition(s)', failures);
  const started = target.map(name);
  console.log(`Successfully started partition reassignment${started.length === 1 ? '' : 's'} for ${started.join(',')}`);
}

async function verify(
  admin: Admin,
  bootstrap: string[],
  security: ClientSecurity,
  target: PartitionReplicas[],
): Promise<boolean> {
  const moving = await ongoing(admin, bootstrap, security);
  const current = await currentReplicas(
    admin,
    target.map((p) => p.topic),
  );
  console.log('Status of partition reassignment:');
  let done = true;
  for (const p of target) {
    if (moving.has(name(p))) {
      done = false;
      console.log(`Reassignment of partition ${name(p)} is still in progress.`);
      continue;
    }
    const now = current.find((c) => name(c) === name(p))?.replicas ?? [];
    if (JSON.stringify(now) === JSON.stringify(p.replicas)) {
      console.log(`Reassignment of partition ${name(p)} is completed.`);
    } else {
      done = false;
      console.log(
        `There is no active reassignment of partition ${name(p)}, but replica set is ${JSON.stringify(now)} rather than ${JSON.stringify(p.replicas)}.`,
      );
    }
  }
  return done;
}

async function cancel(
  admin: Admin,
  bootstrap: string[],
  security: ClientSecurity,
  target: PartitionReplicas[],
): Promise<void> {
  const moving = await ongoing(admin, bootstrap, security);
  const active = target.filter((p) => moving.has(name(p)));
  if (active.length === 0) {
    console.log('None of the specified partition moves are active.');
    return;
  }
  const failures = await alter(
    admin,
    bootstrap,
    security,
    active.map((p) => ({ topic: p.topic, partition: p.partition, replicas: null })),
  );
  if (failures.size > 0) throw failuresError('Error cancelling partition reassignment(s)', failures);
  console.log(`Successfully cancelled partition reassignments for: ${active.map(name).join(',')}`);
}

async function list(admin: Admin, bootstrap: string[], security: ClientSecurity): Promise<void> {
  const moving = await ongoing(admin, bootstrap, security);
  if (moving.size === 0) {
    console.log('No partition reassignments found.');
    return;
  }
  console.log('Current partition reassignments:');
  for (const [partition, r] of [...moving].sort(([a], [b]) => (a < b ? -1 : 1))) {
    console.log(
      `${partition}: replicas: ${r.replicas.join(',')}. adding: ${r.adding.join(',')}. removing: ${r.removing.join(',')}.`,
    );
  }
}

/** `samsa reassign-partitions`: Kafka's kafka-reassign-partitions.sh. Returns the exit code. */
export async function runReassignPartitions(argv: string[]): Promise<number> {
  let flags: ParsedFlags;
  let bootstrap: string[];
  let security: ClientSecurity;
  let action: Action;
  try {
    flags = parseFlags(argv, FLAGS);
    bootstrap = bootstrapServers(flags);
    const actions = ACTIONS.filter((a) => flags.switches.has(a));
    if (actions.length !== 1)
      throw new UsageError('one of --generate, --execute, --verify, --cancel or --list is required');
    action = actions[0]!;
    if (flags.values.has('throttle') && action !== 'execute')
      throw new UsageError('--throttle can only be used with --execute');
    if (flags.switches.has('additional') && action !== 'execute')
      throw new UsageError('--additional can only be used with --execute');
    parseThrottle(flags.values.get('throttle'));
    if (['execute', 'verify', 'cancel'].includes(action) && !flags.values.get('reassignment-json-file')) {
      throw new UsageError(`--${action} needs --reassignment-json-file`);
    }
    security = await commandConfigSecurity(flags);
  } catch (e) {
    return usageExit('reassign-partitions', REASSIGN_USAGE, e);
  }
  const admin = await adminClient(bootstrap, security);
  try {
    const file = flags.values.get('reassignment-json-file');
    const target = file === undefined ? [] : parseReassignmentJson(await readFile(file, 'utf8'));
    const topics = target.map((p) => p.topic);
    if (action === 'generate') await generate(admin, flags);
    else if (action === 'execute') {
      if (flags.values.has('replica-alter-log-dirs-throttle'))
        console.error(
          'samsa reassign-partitions: --replica-alter-log-dirs-throttle is ignored: Samsa does not move replicas between log dirs',
        );
      await execute(admin, bootstrap, security, target, {
        throttle: parseThrottle(flags.values.get('throttle')),
        additional: flags.switches.has('additional'),
      });
    } else if (action === 'verify') {
      const done = await verify(admin, bootstrap, security, target);
      if (done && !flags.switches.has('preserve-throttles')) await clearThrottles(admin, topics);
    } else if (action === 'cancel') {
      await cancel(admin, bootstrap, security, target);
      if (!flags.switches.has('preserve-throttles')) await clearThrottles(admin, topics);
    } else await list(admin, bootstrap, security);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) return usageExit('reassign-partitions', REASSIGN_USAGE, e);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error(`samsa reassign-partitions: ${(e as Error).message}`);
      return FAILURE_EXIT_CODE;
    }
    console.error(describeFailure('reassign-partitions', bootstrap, e));
    return FAILURE_EXIT_CODE;
  } finally {
    await admin.close().catch(() => {});
  }
}
