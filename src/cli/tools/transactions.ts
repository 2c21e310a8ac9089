import type { Admin } from '@platformatic/kafka';
import { ErrorCode } from '../../protocol/errors.js';
import { describeProducersApi } from '../../protocol/generated/apis/describe-producers.js';
import { describeTransactionsApi } from '../../protocol/generated/apis/describe-transactions.js';
import { listTransactionsApi } from '../../protocol/generated/apis/list-transactions.js';
import { writeTxnMarkersApi } from '../../protocol/generated/apis/write-txn-markers.js';
import type { DescribeProducersResponse } from '../../protocol/generated/messages/describe-producers-response.js';
import { bootstrapServers, integerFlag, type ParsedFlags, parseFlags, requiredFlag, UsageError } from './args.js';
import { BrokerConnection } from './broker-request.js';
import { adminClient, commandConfigSecurity, describeFailure, ToolError } from './client.js';
import { type ClientSecurity, COMMAND_CONFIG_HELP } from './client-security.js';
import { kafkaUsageExit } from './perf-args.js';

const TRANSACTIONS_USAGE = `usage: samsa transactions --bootstrap-server HOST:PORT [--command-config FILE] COMMAND [options]

Analyses the transactional state of producers in the cluster, and aborts hanging transactions (as Kafka's
kafka-transactions.sh).

commands:
  list                                    every transaction each broker coordinates
  describe --transactional-id ID          the state of a transactional id
  describe-producers --topic T --partition P [--broker-id B]
                                          the active producers of a partition
  find-hanging (--topic T [--partition P] | --broker-id B) [--max-transaction-timeout MINUTES (15)]
                                          open transactions in partitions that no coordinator will end
  abort --topic T --partition P (--start-offset O | --producer-id ID --producer-epoch E --coordinator-epoch C)
                                          write an ABORT marker for a hanging transaction

${COMMAND_CONFIG_HELP}`;

const COMMANDS = ['list', 'describe', 'describe-producers', 'abort', 'find-hanging'] as const;
type Command = (typeof COMMANDS)[number];

const GLOBAL_FLAGS = { 'bootstrap-server': 'value', 'command-config': 'value' } as const;
/** Each command's own options (argparse sub-parsers in Kafka's tool). */
const COMMAND_FLAGS: Record<Command, Record<string, 'value'>> = {
  list: {},
  describe: { 'transactional-id': 'value' },
  'describe-producers': { topic: 'value', partition: 'value', 'broker-id': 'value' },
  abort: {
    topic: 'value',
    partition: 'value',
    'start-offset': 'value',
    'producer-id': 'value',
    'producer-epoch': 'value',
    'coordinator-epoch': 'value',
  },
  'find-hanging': { topic: 'value', partition: 'value', 'broker-id': 'value', 'max-transaction-timeout': 'value' },
};

/** Kafka's default --max-transaction-timeout (minutes) of find-hanging. */
const DEFAULT_MAX_TRANSACTION_TIMEOUT_MINUTES = 15;
/** Partitions per DescribeProducers request in find-hanging (Kafka's MAX_BATCH_SIZE). */
const MAX_BATCH_SIZE = 500;
/** FindCoordinator's key type for transactional ids. */
const TRANSACTION_KEY_TYPE = 1;
/** DescribeProducers' and DescribeTransactions' "none" for a time or offset. */
const NONE = -1n;

/** Kafka's messages for the errors these commands meet (Errors.message()). */
const ERROR_MESSAGES: Record<number, string> = {
  [ErrorCode.TRANSACTIONAL_ID_NOT_FOUND]: 'The transactionalId could not be found.',
  [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]: 'This server does not host this topic-partition.',
  [ErrorCode.NOT_LEADER_OR_FOLLOWER]:
    'For requests intended only for the leader, this error indicates that the broker is not the current leader. For requests intended for any replica, this error indicates that the broker is not a replica of the topic partition.',
  [ErrorCode.COORDINATOR_NOT_AVAILABLE]: 'The coordinator is not available.',
  [ErrorCode.NOT_COORDINATOR]: 'This is not the correct coordinator.',
  [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS]: "The coordinator is loading and hence can't process requests.",
  [ErrorCode.INVALID_PRODUCER_EPOCH]: 'Producer attempted to produce with an old epoch.',
  [ErrorCode.TRANSACTION_COORDINATOR_FENCED]:
    'Indicates that the transaction coordinator sending a WriteTxnMarker is no longer the current coordinator for a given producer.',
  [ErrorCode.KAFKA_STORAGE_ERROR]: 'Disk error when trying to access log file on the disk.',
};
function errorMessage(code: number): string {
  return ERROR_MESSAGES[code] ?? `error code ${code}`;
}

/** Kafka's TransactionsCommand.printErrorAndExit: the message on standard error, exit 1. */
class CommandFailed extends ToolError {}
function failed(message: string, cause?: string): CommandFailed {
  return new CommandFailed(
    cause === undefined ? message : `${message}: ${cause} Enable debug logging for additional detail.`,
  );
}

/**
 * Kafka's prettyPrintTable: each column as wide as its widest cell or header, every cell (the last one too)
 * followed by a tab.
 */
function prettyPrintTable(headers: readonly string[], rows: readonly string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [headers, ...rows].map((row) => `${row.map((cell, i) => `${cell.padEnd(widths[i]!)}\t`).join('')}\n`).join('');
}

interface Context {
  admin: Admin;
  bootstrap: string[];
  security: ClientSecurity;
  flags: ParsedFlags;
}

interface Node {
  id: number;
  host: string;
  port: number;
}

/** One request to one broker, on a connection of its own. */
async function onBroker<T>(c: Context, node: Node, use: (connection: BrokerConnection) => Promise<T>): Promise<T> {
  const connection = await BrokerConnection.open(node.host, node.port, c.bootstrap, c.security);
  try {
    return await use(connection);
  } finally {
    await connection.close();
  }
}

async function brokers(c: Context): Promise<Node[]> {
  const metadata = await c.admin.metadata({ topics: [] });
  return [...metadata.brokers].map(([id, b]) => ({ id, host: b.host, port: b.port })).sort((a, b) => a.id - b.id);
}

/** The leader of each partition of the topics (or of one partition), as metadata gives them. */
async function partitionLeaders(
  c: Context,
  topics: string[],
): Promise<{
  nodes: Map<number, Node>;
  partitions: Array<{ topic: string; partition: number; leader: number; replicas: number[] }>;
}> {
  const metadata = await c.admin.metadata({ topics });
  const nodes = new Map([...metadata.brokers].map(([id, b]) => [id, { id, host: b.host, port: b.port }]));
  const partitions: Array<{ topic: string; partition: number; leader: number; replicas: number[] }> = [];
  for (const topic of topics) {
    const t = metadata.topics.get(topic);
    if (!t) throw failed(`Failed to describe 1 topics`, `This server does not host this topic-partition.`);
    for (const [partition, p] of t.partitions.entries())
      partitions.push({ topic, partition, leader: p.leader, replicas: p.replicas });
  }
  return { nodes, partitions };
}

/** Every listing of every broker (Kafka's listTransactions().allByBrokerId()). */
async function listTransactions(c: Context, producerIdFilters: bigint[] = []) {
  const out: Array<{ coordinator: number; transactionalId: string; producerId: bigint; state: string }> = [];
  for (const node of await brokers(c)) {
    const response = await onBroker(c, node, (connection) =>
      connection.request(listTransactionsApi, 0, { stateFilters: [], producerIdFilters, durationFilter: -1n }),
    );
    if (response.errorCode !== ErrorCode.NONE)
      throw failed('Failed to list transactions', errorMessage(response.errorCode));
    for (const t of response.transactionStates)
      out.push({
        coordinator: node.id,
        transactionalId: t.transactionalId,
        producerId: t.producerId,
        state: t.transactionState,
      });
  }
  return out;
}

async function list(c: Context): Promise<string> {
  const listed = await listTransactions(c);
  return prettyPrintTable(
    ['TransactionalId', 'Coordinator', 'ProducerId', 'TransactionState'],
    listed.map((t) => [t.transactionalId, String(t.coordinator), String(t.producerId), t.state]),
  );
}

/** DescribeTransactions at the id's coordinator; null when the coordinator does not know the id. */
async function describeTransaction(c: Context, transactionalId: string) {
  const [found] = await c.admin.findCoordinator({ keyType: TRANSACTION_KEY_TYPE, keys: [transactionalId] });
  if (!found) throw new ToolError(`no coordinator found for transactional id ${transactionalId}`);
  const node = { id: found.nodeId, host: found.host, port: found.port };
  const response = await onBroker(c, node, (connection) =>
    connection.request(describeTransactionsApi, 0, { transactionalIds: [transactionalId] }),
  );
  const state = response.transactionStates[0];
  if (!state) throw new ToolError('the coordinator did not answer for the transactional id');
  return { coordinator: node.id, state };
}

async function describe(c: Context): Promise<string> {
  const transactionalId = requiredFlag(c.flags, 'transactional-id');
  const { coordinator, state } = await describeTransaction(c, transactionalId);
  if (state.errorCode !== ErrorCode.NONE)
    throw failed(
      `Failed to describe transaction state of transactional-id \`${transactionalId}\``,
      errorMessage(state.errorCode),
    );
  const started = state.transactionStartTimeMs !== NONE;
  return prettyPrintTable(
    [
      'CoordinatorId',
      'TransactionalId',
      'ProducerId',
      'ProducerEpoch',
      'TransactionState',
      'TransactionTimeoutMs',
      'CurrentTransactionStartTimeMs',
      'TransactionDurationMs',
      'TopicPartitions',
    ],
    [
      [
        String(coordinator),
        transactionalId,
        String(state.producerId),
        String(state.producerEpoch),
        state.transactionState,
        String(state.transactionTimeoutMs),
        started ? String(state.transactionStartTimeMs) : 'None',
        started ? String(BigInt(Date.now()) - state.transactionStartTimeMs) : 'None',
        state.topics.flatMap((t) => t.partitions.map((p) => `${t.topic}-${p}`)).join(','),
      ],
    ],
  );
}

type ActiveProducer = DescribeProducersResponse['topics'][number]['partitions'][number]['activeProducers'][number];

/** DescribeProducers for partitions, each asked of its leader (or of --broker-id). */
async function describeProducers(
  c: Context,
  partitions: Array<{ topic: string; partition: number; leader: number }>,
  nodes: Map<number, Node>,
  brokerId: number | undefined,
): Promise<Map<string, { errorCode: number; producers: ActiveProducer[] }>> {
  const byNode = new Map<number, Array<{ topic: string; partition: number }>>();
  for (const p of partitions) {
    const id = brokerId ?? p.leader;
    byNode.set(id, [...(byNode.get(id) ?? []), p]);
  }
  const out = new Map<string, { errorCode: number; producers: ActiveProducer[] }>();
  for (const [id, ps] of byNode) {
    const node = nodes.get(id);
    if (!node) {
      for (const p of ps)
        out.set(`${p.topic}-${p.partition}`, { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, producers: [] });
      continue;
    }
    for (let i = 0; i < ps.length; i += MAX_BATCH_SIZE) {
      const batch = ps.slice(i, i + MAX_BATCH_SIZE);
      const topics = new Map<string, number[]>();
      for (const p of batch) topics.set(p.topic, [...(topics.get(p.topic) ?? []), p.partition]);
      const response = await onBroker(c, node, (connection) =>
        connection.request(describeProducersApi, 0, {
          topics: [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
        }),
      );
      for (const t of response.topics)
        for (const p of t.partitions)
          out.set(`${t.name}-${p.partitionIndex}`, { errorCode: p.errorCode, producers: p.activeProducers });
    }
  }
  return out;
}

async function describeProducersCommand(c: Context): Promise<string> {
  const topic = requiredFlag(c.flags, 'topic');
  const partition = integerFlag(c.flags, 'partition', 0);
  if (partition === undefined) throw new UsageError('--partition is required');
  const brokerId = integerFlag(c.flags, 'broker-id', 0);
  const { nodes, partitions } = await partitionLeaders(c, [topic]);
  const found = partitions.find((p) => p.partition === partition) ?? { topic, partition, leader: -1 };
  const result = (await describeProducers(c, [found], nodes, brokerId)).get(`${topic}-${partition}`);
  if (!result || result.errorCode !== ErrorCode.NONE)
    throw failed(
      `Failed to describe producers for partition ${topic}-${partition} on ${brokerId === undefined ? 'leader' : `broker ${brokerId}`}`,
      errorMessage(result?.errorCode ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
    );
  return prettyPrintTable(
    [
      'ProducerId',
      'ProducerEpoch',
      'LatestCoordinatorEpoch',
      'LastSequence',
      'LastTimestamp',
      'CurrentTransactionStartOffset',
    ],
    result.producers.map((p) => [
      String(p.producerId),
      String(p.producerEpoch),
      String(p.coordinatorEpoch),
      String(p.lastSequence),
      String(p.lastTimestamp),
      p.currentTxnStartOffset === NONE ? 'None' : String(p.currentTxnStartOffset),
    ]),
  );
}

async function findHanging(c: Context): Promise<string> {
  const topic = c.flags.values.get('topic');
  const brokerId = integerFlag(c.flags, 'broker-id', 0);
  const partition = integerFlag(c.flags, 'partition', 0);
  if (topic === undefined && brokerId === undefined)
    throw failed('The `find-hanging` command requires either --topic or --broker-id to limit the scope of the search');
  if (partition !== undefined && topic === undefined)
    throw failed('The --partition argument requires --topic to be provided');
  const maxTimeoutMs =
    (integerFlag(c.flags, 'max-transaction-timeout', 0) ?? DEFAULT_MAX_TRANSACTION_TIMEOUT_MINUTES) * 60_000;

  const topics = topic !== undefined ? [topic] : await c.admin.listTopics();
  const { nodes, partitions: all } = await partitionLeaders(c, topics);
  const partitions = all.filter(
    (p) =>
      (partition === undefined || p.partition === partition) &&
      (brokerId === undefined || topic !== undefined || p.replicas.includes(brokerId)),
  );
  const producers = await describeProducers(c, partitions, nodes, brokerId);
  const now = Date.now();
  const candidates: Array<{ topic: string; partition: number; producer: ActiveProducer }> = [];
  for (const p of partitions) {
    const result = producers.get(`${p.topic}-${p.partition}`);
    if (result && result.errorCode !== ErrorCode.NONE)
      throw failed(
        `Failed to describe producers for ${partitions.length} partitions on broker ${brokerId === undefined ? 'Optional.empty' : `Optional[${brokerId}]`}`,
        errorMessage(result.errorCode),
      );
    for (const producer of result?.producers ?? [])
      if (producer.currentTxnStartOffset !== NONE && now - Number(producer.lastTimestamp) > maxTimeoutMs)
        candidates.push({ topic: p.topic, partition: p.partition, producer });
  }

  const hanging: typeof candidates = [];
  if (candidates.length > 0) {
    // A transaction is hanging when no coordinator knows its producer id, or when the coordinator's transaction
    // no longer includes the partition (its marker will never come).
    const producerIds = [...new Set(candidates.map((x) => x.producer.producerId))];
    const listed = await listTransactions(c, producerIds);
    const transactionalIds = new Map(listed.map((t) => [t.producerId, t.transactionalId]));
    const partitionsOf = new Map<string, Set<string> | null>();
    for (const id of new Set(transactionalIds.values())) {
      const { state } = await describeTransaction(c, id);
      if (state.errorCode === ErrorCode.TRANSACTIONAL_ID_NOT_FOUND) partitionsOf.set(id, null);
      else if (state.errorCode !== ErrorCode.NONE)
        throw failed(`Failed to describe ${transactionalIds.size} transactions`, errorMessage(state.errorCode));
      else partitionsOf.set(id, new Set(state.topics.flatMap((t) => t.partitions.map((p) => `${t.topic}-${p}`))));
    }
    for (const x of candidates) {
      const id = transactionalIds.get(x.producer.producerId);
      const open = id === undefined ? null : partitionsOf.get(id);
      if (!open?.has(`${x.topic}-${x.partition}`)) hanging.push(x);
    }
  }
  return prettyPrintTable(
    [
      'Topic',
      'Partition',
      'ProducerId',
      'ProducerEpoch',
      'CoordinatorEpoch',
      'StartOffset',
      'LastTimestamp',
      'Duration(min)',
    ],
    hanging.map((x) => [
      x.topic,
      String(x.partition),
      String(x.producer.producerId),
      String(x.producer.producerEpoch),
      String(x.producer.coordinatorEpoch),
      String(x.producer.currentTxnStartOffset),
      String(x.producer.lastTimestamp),
      String(Math.floor((now - Number(x.producer.lastTimestamp)) / 60_000)),
    ]),
  );
}

async function abort(c: Context): Promise<string> {
  const topic = requiredFlag(c.flags, 'topic');
  const partition = integerFlag(c.flags, 'partition', 0);
  if (partition === undefined) throw new UsageError('--partition is required');
  const startOffset = c.flags.values.get('start-offset');
  const producerIdText = c.flags.values.get('producer-id');
  if (startOffset === undefined && producerIdText === undefined)
    throw failed(
      'The transaction to abort must be identified either with --start-offset (for brokers on 3.0 or above) or with --producer-id, --producer-epoch, and --coordinator-epoch (for older brokers)',
    );
  const { nodes, partitions } = await partitionLeaders(c, [topic]);
  const target = partitions.find((p) => p.partition === partition) ?? { topic, partition, leader: -1 };
  let spec: { producerId: bigint; producerEpoch: number; coordinatorEpoch: number };
  if (startOffset === undefined) {
    if (!/^-?\d+$/.test(producerIdText!))
      throw new UsageError(`--producer-id must be an integer, not '${producerIdText}'`);
    const producerEpoch = integerFlag(c.flags, 'producer-epoch');
    if (producerEpoch === undefined) throw failed('Missing required argument --producer-epoch');
    const coordinatorEpoch = integerFlag(c.flags, 'coordinator-epoch');
    if (coordinatorEpoch === undefined) throw failed('Missing required argument --coordinator-epoch');
    // A transaction that hung before its first marker has coordinator epoch -1; 0 is at most any leader epoch.
    spec = { producerId: BigInt(producerIdText!), producerEpoch, coordinatorEpoch: Math.max(coordinatorEpoch, 0) };
  } else {
    if (!/^\d+$/.test(startOffset)) throw new UsageError(`--start-offset must be an integer, not '${startOffset}'`);
    const result = (await describeProducers(c, [target], nodes, undefined)).get(`${topic}-${partition}`);
    if (!result || result.errorCode !== ErrorCode.NONE)
      throw failed(
        `Failed to validate producer state for partition ${topic}-${partition}`,
        errorMessage(result?.errorCode ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
      );
    const producer = result.producers.find((p) => p.currentTxnStartOffset === BigInt(startOffset));
    if (!producer)
      throw failed(
        `Could not find any open transactions starting at offset ${startOffset} on partition ${topic}-${partition}`,
      );
    spec = {
      producerId: producer.producerId,
      producerEpoch: producer.producerEpoch,
      coordinatorEpoch: Math.max(producer.coordinatorEpoch, 0),
    };
  }
  const leader = nodes.get(target.leader);
  if (!leader)
    throw failed(
      `Failed to abort transaction ${describeSpec(topic, partition, spec)}`,
      errorMessage(ErrorCode.NOT_LEADER_OR_FOLLOWER),
    );
  const response = await onBroker(c, leader, (connection) =>
    connection.request(writeTxnMarkersApi, 1, {
      markers: [
        {
          producerId: spec.producerId,
          producerEpoch: spec.producerEpoch,
          transactionResult: false,
          coordinatorEpoch: spec.coordinatorEpoch,
          topics: [{ name: topic, partitionIndexes: [partition] }],
        },
      ],
    }),
  );
  const errorCode = response.markers[0]?.topics[0]?.partitions[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
  if (errorCode !== ErrorCode.NONE)
    throw failed(`Failed to abort transaction ${describeSpec(topic, partition, spec)}`, errorMessage(errorCode));
  // Kafka's tool prints nothing when the abort succeeds.
  return '';
}

/** Kafka's AbortTransactionSpec.toString. */
function describeSpec(
  topic: string,
  partition: number,
  spec: { producerId: bigint; producerEpoch: number; coordinatorEpoch: number },
): string {
  return `AbortTransactionSpec(topicPartition=${topic}-${partition}, producerId=${spec.producerId}, producerEpoch=${spec.producerEpoch}, coordinatorEpoch=${spec.coordinatorEpoch})`;
}

const RUN: Record<Command, (c: Context) => Promise<string>> = {
  list,
  describe,
  'describe-producers': describeProducersCommand,
  abort,
  'find-hanging': findHanging,
};

/** The command word, and the other words, with the options that take a value kept with their values. */
function splitCommand(argv: string[]): { command: Command; rest: string[] } {
  const valueFlags = new Set([
    ...Object.keys(GLOBAL_FLAGS),
    ...Object.values(COMMAND_FLAGS).flatMap((f) => Object.keys(f)),
  ]);
  const rest: string[] = [];
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--') || arg === '-h') {
      rest.push(arg);
      if (!arg.includes('=') && valueFlags.has(arg.slice(2)) && i + 1 < argv.length) rest.push(argv[++i]!);
    } else if (command === undefined) command = arg;
    else rest.push(arg);
  }
  if (rest.includes('--help') || rest.includes('-h')) return { command: 'list', rest: ['--help'] };
  if (command === undefined) throw new UsageError(`a command is required: ${COMMANDS.join(', ')}`);
  if (!(COMMANDS as readonly string[]).includes(command))
    throw new UsageError(`invalid choice: '${command}' (choose from ${COMMANDS.map((x) => `'${x}'`).join(', ')})`);
  return { command: command as Command, rest };
}

/** `samsa transactions`: Kafka's kafka-transactions.sh. Returns the exit code. */
export async function runTransactions(argv: string[]): Promise<number> {
  let command: Command;
  let flags: ParsedFlags;
  let bootstrap: string[];
  let security: ClientSecurity;
  try {
    const split = splitCommand(argv);
    command = split.command;
    flags = parseFlags(split.rest, { ...GLOBAL_FLAGS, ...COMMAND_FLAGS[command] });
    bootstrap = bootstrapServers(flags);
    security = await commandConfigSecurity(flags);
  } catch (e) {
    return kafkaUsageExit('transactions', TRANSACTIONS_USAGE, e);
  }
  const admin = await adminClient(bootstrap, security);
  try {
    const out = await RUN[command]({ admin, bootstrap, security, flags });
    if (out) process.stdout.write(out);
    return 0;
  } catch (e) {
    if (e instanceof CommandFailed) {
      console.error(e.message);
      return 1;
    }
    if (e instanceof UsageError) return kafkaUsageExit('transactions', TRANSACTIONS_USAGE, e);
    console.error(describeFailure('transactions', bootstrap, e));
    return 1;
  } finally {
    await admin.close().catch(() => {});
  }
}
