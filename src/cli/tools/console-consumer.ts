import type { Consumer, Message } from '@platformatic/kafka';
import {
  bootstrapServers,
  FAILURE_EXIT_CODE,
  integerFlag,
  keyValueFlags,
  type ParsedFlags,
  parseFlags,
  UsageError,
  usageExit,
} from './args.js';
import { adminClient, clientLibrary, clientOptions, describeFailure, ToolError } from './client.js';
import { type ClientSecurity, clientSecurity, isSecurityProperty, readClientProperties } from './client-security.js';
import { type ConsumedRecord, MessageFormatter } from './message-formatter.js';
import { PartitionReader, type StartAt } from './partition-reader.js';

const CONSOLE_CONSUMER_USAGE = `usage: samsa console-consumer --bootstrap-server HOST:PORT (--topic T | --include REGEX) [options]

Prints records to standard output (as Kafka's kafka-console-consumer.sh).
  --include REGEX               read every topic whose whole name the regular expression matches (internal topics
                                left out), as found when the tool starts (also accepted as --whitelist)
  --from-beginning              start at the earliest offset (with --group: when the group has no committed one)
  --partition P                 read only this partition
  --offset earliest|latest|N    where to start in --partition (default: latest, or earliest with --from-beginning)
  --group G                     consume as a member of group G, committing what was printed when it stops
                                (records fetched but not printed stay for the next run); without it the partitions
                                are read directly, and no group is created
  --isolation-level LEVEL       read_uncommitted (the default) or read_committed: only committed transactions'
                                records, up to the last stable offset
  --max-messages N              exit after N records
  --timeout-ms MS               exit when no record arrives for this long
  --property print.timestamp=true print.partition=true print.offset=true print.headers=true print.key=true
             print.value=false key.separator=SEP line.separator=SEP headers.separator=SEP null.literal=TEXT
                                what to print for each record, as Kafka's DefaultMessageFormatter
                                (also accepted as --formatter-property)
  --consumer-property k=v       a consumer property: group.id, client.id, isolation.level and the security
                                properties (security.protocol, sasl.*, ssl.*, as Kafka's client) apply, others are
                                ignored
  --consumer.config FILE        consumer properties from a file (--consumer-property wins)`;

const FLAGS = {
  'bootstrap-server': 'value',
  topic: 'value',
  include: 'value',
  whitelist: 'value',
  'from-beginning': 'switch',
  partition: 'value',
  offset: 'value',
  group: 'value',
  'max-messages': 'value',
  'timeout-ms': 'value',
  'isolation-level': 'value',
  property: 'repeated',
  'formatter-property': 'repeated',
  'consumer-property': 'repeated',
  'consumer.config': 'value',
} as const;

/** The client library needs a group id even for a consumer that never joins one. */
const UNUSED_GROUP_ID = 'samsa-console-consumer';

interface ConsumerCommand {
  bootstrap: string[];
  /** --topic, or null with --include. */
  topic: string | null;
  include: RegExp | null;
  group: string | undefined;
  partition: number | undefined;
  startAt: StartAt;
  /** Kafka's auto.offset.reset, set by --from-beginning. */
  resetTo: 'earliest' | 'latest';
  maxMessages: number | undefined;
  timeoutMs: number | undefined;
  formatter: MessageFormatter;
  isolationLevel: IsolationLevel;
  clientId: string | undefined;
  security: ClientSecurity;
  /** Consumer properties given but without effect here, reported before consuming. */
  ignored: string[];
}

/** Fetch isolation levels: Kafka's console consumer reads uncommitted unless told otherwise. */
const ISOLATION_LEVELS = { read_uncommitted: 0, read_committed: 1 } as const;
type IsolationLevel = (typeof ISOLATION_LEVELS)[keyof typeof ISOLATION_LEVELS];

function parseIsolationLevel(text: string | undefined): IsolationLevel {
  if (text === undefined) return ISOLATION_LEVELS.read_uncommitted;
  const level = ISOLATION_LEVELS[text.toLowerCase() as keyof typeof ISOLATION_LEVELS];
  if (level === undefined)
    throw new UsageError(`--isolation-level must be read_uncommitted or read_committed, not '${text}'`);
  return level;
}

/** Kafka's --offset: earliest, latest or a non-negative offset. */
function parseOffset(text: string): StartAt {
  const lower = text.toLowerCase();
  if (lower === 'earliest' || lower === 'latest') return lower;
  if (/^\d+$/.test(text)) return BigInt(text);
  throw new UsageError(
    `The provided offset value '${text}' is incorrect. Valid values are 'earliest', 'latest', or a non-negative long.`,
  );
}

/** Consumer properties the tool applies besides the security ones. */
const APPLIED_CONSUMER_PROPERTIES = new Set(['group.id', 'client.id', 'isolation.level']);

async function parseCommand(argv: string[]): Promise<ConsumerCommand> {
  const flags: ParsedFlags = parseFlags(argv, FLAGS);
  const bootstrap = bootstrapServers(flags);
  const topic = flags.values.get('topic') ?? null;
  const includeText = flags.values.get('include') ?? flags.values.get('whitelist');
  // Kafka's rules, with its messages.
  if ((topic === null) === (includeText === undefined))
    throw new UsageError('Exactly one of include/topic is required.');
  let include: RegExp | null = null;
  if (includeText !== undefined) {
    try {
      // Java's Pattern.matches: the whole topic name.
      include = new RegExp(`^(?:${includeText})$`);
    } catch (e) {
      throw new UsageError(`--include is not a valid regular expression: ${(e as Error).message}`);
    }
  }
  const partition = integerFlag(flags, 'partition', 0);
  // Kafka's precedence: the config file, then --consumer-property, then the tool's own flags.
  const consumerProperties = await readClientProperties(flags.values.get('consumer.config'), 'consumer.config');
  for (const [key, value] of keyValueFlags(flags, 'consumer-property')) consumerProperties.set(key, value);
  const propertyGroup = consumerProperties.get('group.id');
  const group = flags.values.get('group') ?? propertyGroup;
  if (propertyGroup !== undefined && group !== propertyGroup)
    throw new UsageError(
      "The group ids provided in different places (directly using '--group', via '--consumer-property', or via '--consumer.config') do not match.",
    );
  const fromBeginning = flags.switches.has('from-beginning');
  const offset = flags.values.get('offset');
  // Kafka's rules, with its messages.
  if (partition !== undefined && topic === null)
    throw new UsageError('The topic is required when partition is specified.');
  if (partition === undefined && offset !== undefined)
    throw new UsageError('The partition is required when offset is specified.');
  if (partition !== undefined && fromBeginning && offset !== undefined)
    throw new UsageError('Options from-beginning and offset cannot be specified together.');
  if (partition !== undefined && group !== undefined)
    throw new UsageError('Options group and partition cannot be specified together.');
  const resetTo = fromBeginning ? 'earliest' : 'latest';
  const properties = new Map([...keyValueFlags(flags, 'property'), ...keyValueFlags(flags, 'formatter-property')]);
  return {
    bootstrap,
    topic,
    include,
    group,
    partition,
    startAt: offset !== undefined ? parseOffset(offset) : resetTo,
    resetTo,
    maxMessages: integerFlag(flags, 'max-messages', 0),
    timeoutMs: integerFlag(flags, 'timeout-ms', 0),
    formatter: new MessageFormatter(properties),
    isolationLevel: parseIsolationLevel(
      flags.values.get('isolation-level') ?? consumerProperties.get('isolation.level'),
    ),
    clientId: consumerProperties.get('client.id'),
    security: await clientSecurity(consumerProperties),
    ignored: [...consumerProperties.keys()].filter(
      (k) => !APPLIED_CONSUMER_PROPERTIES.has(k) && !isSecurityProperty(k),
    ),
  };
}

/** Where records come from: partitions read directly, or a group member's share of them. */
interface RecordSource {
  /** Delivers records until stop(); rejects when consuming fails. onRecord says whether it used the record. */
  run(onRecord: (record: ConsumedRecord) => boolean): Promise<void>;
  /** Stops delivering; a group member commits what was used first, and rejects when that fails. */
  stop(): void | Promise<void>;
}

/**
 * A member of the consumer group, through the client library's group consumer. What was printed is committed
 * when consuming stops, and the tool waits for the answer, as Kafka's consumer commits synchronously on close:
 * the library's automatic commits would also commit records fetched but never printed (past --max-messages),
 * and a failed one would go unnoticed.
 */
function groupSource(consumer: Consumer, command: ConsumerCommand, topics: string[]): RecordSource {
  let stopped = false;
  let close: () => void = () => {};
  /** The last record printed from each partition: committing it commits its offset + 1. */
  const lastPrinted = new Map<string, Message>();
  return {
    run: async (onRecord) => {
      const stream = await consumer.consume({
        topics,
        mode: 'committed',
        fallbackMode: command.resetTo,
        autocommit: false,
      });
      close = () => {
        stream.close().catch(() => {});
      };
      if (stopped) close();
      await new Promise<void>((resolve, reject) => {
        stream.on('data', (m: Message) => {
          if (stopped || !onRecord(fromMessage(m))) return;
          lastPrinted.set(`${m.topic}:${m.partition}`, m);
        });
        stream.once('error', reject);
        stream.once('close', resolve);
      });
    },
    stop: async () => {
      stopped = true;
      try {
        await Promise.all([...lastPrinted.values()].map((m) => m.commit()));
      } finally {
        close();
      }
    },
  };
}

/**
 * The topics --include matches when the tool starts, internal ones left out (Kafka's exclude.internal.topics).
 * Kafka's consumer follows the pattern as topics come and go; here the set is fixed at start.
 */
async function includedTopics(bootstrap: string[], command: ConsumerCommand): Promise<string[]> {
  const admin = await adminClient(bootstrap, command.security);
  try {
    const topics = (await admin.listTopics({ includeInternals: false })).filter((t) => command.include!.test(t)).sort();
    if (topics.length === 0) throw new ToolError(`no topic matches --include ${command.include!.source.slice(4, -2)}`);
    return topics;
  } finally {
    await admin.close().catch(() => {});
  }
}

/** Several partition readers (one per topic) as one source. */
function allOf(readers: PartitionReader[]): RecordSource {
  return {
    run: async (onRecord) => {
      await Promise.all(readers.map((r) => r.run(onRecord)));
    },
    stop: async () => {
      await Promise.all(readers.map((r) => r.stop()));
    },
  };
}

function fromMessage(m: Message): ConsumedRecord {
  return {
    partition: m.partition,
    offset: m.offset,
    timestamp: m.timestamp,
    // The library does not pass on the batch's timestamp type.
    timestampType: 'CreateTime',
    key: m.key ?? null,
    value: m.value ?? null,
    headers: [...m.headers].map(([k, v]) => [k.toString('utf8'), v ?? null]),
  };
}

/** `samsa console-consumer`: Kafka's kafka-console-consumer.sh. Returns the exit code. */
export async function runConsoleConsumer(argv: string[]): Promise<number> {
  let command: ConsumerCommand;
  try {
    command = await parseCommand(argv);
  } catch (e) {
    return usageExit('console-consumer', CONSOLE_CONSUMER_USAGE, e);
  }
  const { bootstrap, maxMessages, timeoutMs, formatter } = command;
  for (const key of command.ignored)
    console.error(`samsa console-consumer: consumer property ${key} has no effect here and is ignored`);
  for (const name of formatter.ignored)
    console.error(`samsa console-consumer: formatter property ${name} has no effect here and is ignored`);

  const { Consumer } = await clientLibrary();
  const consumer: Consumer = new Consumer({
    ...clientOptions(bootstrap, command.security),
    ...(command.clientId !== undefined && { clientId: command.clientId }),
    groupId: command.group ?? UNUSED_GROUP_ID,
    // Under read_committed the library drops the records of aborted transactions itself.
    isolationLevel: command.isolationLevel,
  });
  let topics: string[];
  try {
    topics = command.topic !== null ? [command.topic] : await includedTopics(bootstrap, command);
  } catch (e) {
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
    console.error(describeFailure('console-consumer', bootstrap, e));
    return FAILURE_EXIT_CODE;
  }
  const source =
    command.group !== undefined
      ? groupSource(consumer, command, topics)
      : allOf(
          topics.map(
            (topic) =>
              new PartitionReader(
                consumer,
                topic,
                command.partition,
                command.startAt,
                command.resetTo,
                command.isolationLevel,
              ),
          ),
        );

  let count = 0;
  let idle: NodeJS.Timeout | undefined;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const armIdle = () => {
    if (timeoutMs === undefined) return;
    clearTimeout(idle);
    idle = setTimeout(finish, timeoutMs);
  };
  // A reader that went away (`| head`): stop quietly, as Kafka's tool stops when its output fails.
  const outputFailed = () => {
    console.error('Unable to write to standard out, closing consumer.');
    finish();
  };
  process.once('SIGINT', finish);
  process.once('SIGTERM', finish);
  process.stdout.once('error', outputFailed);

  let failure: unknown = null;
  try {
    if (maxMessages === 0) finish();
    armIdle();
    const running = source.run((record) => {
      if (maxMessages !== undefined && count >= maxMessages) return false;
      process.stdout.write(formatter.format(record));
      count++;
      armIdle();
      if (count === maxMessages) finish();
      return true;
    });
    // Consuming ends when it fails, or when it is finished: enough records, idle too long, or interrupted.
    await Promise.race([running, finished]);
    await source.stop();
    await running;
  } catch (e) {
    failure = e;
    await Promise.resolve(source.stop()).catch(() => {});
  } finally {
    clearTimeout(idle);
    process.off('SIGINT', finish);
    process.off('SIGTERM', finish);
    process.stdout.off('error', outputFailed);
    // Forced: the group's stream may still be open after a failure; a member leaves its group on close.
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  }
  if (failure !== null) {
    console.error(describeFailure('console-consumer', bootstrap, failure));
    // What was printed before the failure is still counted, as Kafka's tool does.
    if (count > 0) console.error(`Processed a total of ${count} messages`);
    return FAILURE_EXIT_CODE;
  }
  console.error(`Processed a total of ${count} messages`);
  return 0;
}
