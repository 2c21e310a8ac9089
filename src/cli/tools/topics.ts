import type { Admin } from '@platformatic/kafka';
import {
  bootstrapServers,
  FAILURE_EXIT_CODE,
  integerFlag,
  keyValueFlags,
  type ParsedFlags,
  parseFlags,
  requiredFlag,
  UsageError,
  usageExit,
} from './args.js';
import { adminClient, commandConfigSecurity, describeFailure, ToolError } from './client.js';
import { type ClientSecurity, COMMAND_CONFIG_HELP } from './client-security.js';

const TOPICS_USAGE = `usage: samsa topics --bootstrap-server HOST:PORT <action> [options]

actions (as Kafka's kafka-topics.sh):
  --create --topic T [--partitions N] [--replication-factor R] [--config k=v ...] [--if-not-exists]
  --list [--topic PATTERN] [--exclude-internal]
  --describe [--topic PATTERN] [--exclude-internal] [--if-exists]
  --alter --topic T --partitions N [--if-exists]     add partitions (never fewer)
  --delete --topic T [--if-exists]

With --list and --describe, --topic is Kafka's include list: a regular expression matching whole names, in which
a comma means "or" (orders,payments or 'orders-.*').

${COMMAND_CONFIG_HELP}`;

const FLAGS = {
  'bootstrap-server': 'value',
  'command-config': 'value',
  create: 'switch',
  list: 'switch',
  describe: 'switch',
  alter: 'switch',
  delete: 'switch',
  topic: 'value',
  partitions: 'value',
  'replication-factor': 'value',
  config: 'repeated',
  'if-not-exists': 'switch',
  'if-exists': 'switch',
  'exclude-internal': 'switch',
} as const;

type Action = 'create' | 'list' | 'describe' | 'alter' | 'delete';
const ACTIONS: readonly Action[] = ['create', 'list', 'describe', 'alter', 'delete'];

/** The options each action takes besides --bootstrap-server; Kafka refuses the others, and so do we. */
const ACTION_OPTIONS: Record<Action, readonly string[]> = {
  create: ['topic', 'partitions', 'replication-factor', 'config', 'if-not-exists'],
  list: ['topic', 'exclude-internal'],
  describe: ['topic', 'exclude-internal', 'if-exists'],
  alter: ['topic', 'partitions', 'if-exists'],
  delete: ['topic', 'if-exists'],
};

/** A command line checked in full before any connection is made. */
interface TopicsCommand {
  action: Action;
  topic: string | undefined;
  /** --topic for --list and --describe: which names to show. */
  include: RegExp | undefined;
  partitions: number | undefined;
  replicationFactor: number | undefined;
  configs: Array<{ name: string; value: string }>;
  ifExists: boolean;
  ifNotExists: boolean;
  includeInternal: boolean;
}

/** CreateTopics' "use the broker's default" for the partition count and replication factor. */
const BROKER_DEFAULT = -1;
/** Kafka's ConfigSource code for a topic's own override, the only configs --describe prints. */
const DYNAMIC_TOPIC_CONFIG = 1;
/** Kafka's ConfigResource type for topics. */
const TOPIC_RESOURCE = 2;

function parseCommand(flags: ParsedFlags): TopicsCommand {
  const chosen = ACTIONS.filter((a) => flags.switches.has(a));
  if (chosen.length !== 1) throw new UsageError('give exactly one of --create, --list, --describe, --alter, --delete');
  const action = chosen[0]!;
  const given = [...flags.switches, ...flags.values.keys(), ...flags.repeated.keys()];
  for (const name of given) {
    if (
      name === action ||
      name === 'bootstrap-server' ||
      name === 'command-config' ||
      ACTION_OPTIONS[action].includes(name)
    )
      continue;
    throw new UsageError(`--${name} is not valid with --${action}`);
  }
  const command: TopicsCommand = {
    action,
    topic: flags.values.get('topic'),
    include: undefined,
    partitions: integerFlag(flags, 'partitions', 1),
    replicationFactor: integerFlag(flags, 'replication-factor', 1),
    configs: [...keyValueFlags(flags, 'config')].map(([name, value]) => ({ name, value })),
    ifExists: flags.switches.has('if-exists'),
    ifNotExists: flags.switches.has('if-not-exists'),
    includeInternal: !flags.switches.has('exclude-internal'),
  };
  if (action === 'create' || action === 'alter' || action === 'delete') requiredFlag(flags, 'topic');
  else if (command.topic !== undefined) command.include = includeList(command.topic);
  if (action === 'alter' && command.partitions === undefined) throw new UsageError('--alter needs --partitions');
  return command;
}

/** Kafka's IncludeList: a Java regular expression over whole topic names, with ',' for '|'. */
function includeList(pattern: string): RegExp {
  try {
    return new RegExp(`^(?:${pattern.replaceAll(',', '|')})$`);
  } catch {
    throw new UsageError(`--topic '${pattern}' is not a valid regular expression`);
  }
}

/** Kafka prints topic ids in base64url; the client hands them over as hex UUIDs. */
function kafkaTopicId(uuid: string): string {
  const hex = uuid.replaceAll('-', '');
  return /^[0-9a-f]{32}$/i.test(hex) ? Buffer.from(hex, 'hex').toString('base64url') : uuid;
}

/** Whether the client's error, or one it wraps, is this Kafka error (TOPIC_ALREADY_EXISTS, ...). */
function hasApiError(error: unknown, id: string): boolean {
  const e = error as { apiId?: string; errors?: unknown[] };
  if (e?.apiId === id) return true;
  return (e?.errors ?? []).some((inner) => hasApiError(inner, id));
}

async function create(admin: Admin, c: TopicsCommand): Promise<string> {
  try {
    await admin.createTopics({
      topics: [c.topic!],
      partitions: c.partitions ?? BROKER_DEFAULT,
      replicas: c.replicationFactor ?? BROKER_DEFAULT,
      configs: c.configs,
    });
  } catch (e) {
    if (c.ifNotExists && hasApiError(e, 'TOPIC_ALREADY_EXISTS')) return '';
    throw e;
  }
  return `Created topic ${c.topic}.`;
}

/** The topics the command is about, sorted: all of them, or those --topic matches. */
async function topicNames(admin: Admin, c: TopicsCommand): Promise<string[]> {
  const all = await admin.listTopics({ includeInternals: c.includeInternal });
  return all.filter((name) => c.include?.test(name) ?? true).sort();
}

async function list(admin: Admin, c: TopicsCommand): Promise<string> {
  return (await topicNames(admin, c)).join('\n');
}

async function describe(admin: Admin, c: TopicsCommand): Promise<string> {
  // Names come from the topic list, never straight from --topic: a Metadata request for a missing topic could
  // create it.
  const names = await topicNames(admin, c);
  if (names.length === 0) {
    if (c.topic === undefined || c.ifExists) return '';
    throw new ToolError(`Topic '${c.topic}' does not exist as expected`);
  }
  const metadata = await admin.metadata({ topics: names, forceUpdate: true });
  const configs = await admin.describeConfigs({
    resources: names.map((resourceName) => ({ resourceType: TOPIC_RESOURCE, resourceName })),
  });
  const lines: string[] = [];
  for (const name of names) {
    const topic = metadata.topics.get(name);
    if (!topic) continue; // deleted between the two requests
    const overrides = (configs.find((r) => r.resourceName === name)?.configs ?? [])
      .filter((r) => r.configSource === DYNAMIC_TOPIC_CONFIG)
      .map((r) => `${r.name}=${r.value}`)
      .join(',');
    const replicationFactor = topic.partitions[0]?.replicas.length ?? 0;
    lines.push(
      `Topic: ${name}\tTopicId: ${kafkaTopicId(topic.id)}\tPartitionCount: ${topic.partitionsCount}\tReplicationFactor: ${replicationFactor}\tConfigs: ${overrides}`,
    );
    topic.partitions.forEach((p, i) => {
      lines.push(
        `\tTopic: ${name}\tPartition: ${i}\tLeader: ${p.leader}\tReplicas: ${p.replicas.join(',')}\tIsr: ${p.isr.join(',')}`,
      );
    });
  }
  return lines.join('\n');
}

async function alter(admin: Admin, c: TopicsCommand): Promise<string> {
  try {
    await admin.createPartitions({ topics: [{ name: c.topic!, count: c.partitions! }] });
  } catch (e) {
    if (c.ifExists && hasApiError(e, 'UNKNOWN_TOPIC_OR_PARTITION')) return '';
    throw e;
  }
  return '';
}

async function remove(admin: Admin, c: TopicsCommand): Promise<string> {
  try {
    await admin.deleteTopics({ topics: [c.topic!] });
  } catch (e) {
    if (c.ifExists && hasApiError(e, 'UNKNOWN_TOPIC_OR_PARTITION')) return '';
    throw e;
  }
  return '';
}

const RUN: Record<Action, (admin: Admin, c: TopicsCommand) => Promise<string>> = {
  create,
  list,
  describe,
  alter,
  delete: remove,
};

/** `samsa topics`: Kafka's kafka-topics.sh. Returns the exit code. */
export async function runTopics(argv: string[]): Promise<number> {
  let bootstrap: string[];
  let command: TopicsCommand;
  let security: ClientSecurity;
  try {
    const flags = parseFlags(argv, FLAGS);
    bootstrap = bootstrapServers(flags);
    command = parseCommand(flags);
    security = await commandConfigSecurity(flags);
  } catch (e) {
    return usageExit('topics', TOPICS_USAGE, e);
  }
  const admin = await adminClient(bootstrap, security);
  try {
    const out = await RUN[command.action](admin, command);
    if (out) console.log(out);
    return 0;
  } catch (e) {
    console.error(describeFailure('topics', bootstrap, e));
    return FAILURE_EXIT_CODE;
  } finally {
    await admin.close().catch(() => {});
  }
}
