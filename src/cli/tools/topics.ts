import type { Admin } from '@platformatic/kafka';
import { adminClient, describeFailure } from './client.js';
import { bootstrapServers, integerFlag, type ParsedFlags, parseFlags, UsageError } from './flags.js';

export const TOPICS_USAGE = `usage: samsa topics --bootstrap-server HOST:PORT <action> [options]

actions (as Kafka's kafka-topics.sh):
  --create --topic T [--partitions N] [--replication-factor R] [--config k=v ...] [--if-not-exists]
  --list [--exclude-internal]
  --describe [--topic T] [--exclude-internal]
  --alter --topic T --partitions N     add partitions (never fewer)
  --delete --topic T [--if-exists]`;

const FLAGS = {
  'bootstrap-server': 'value',
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

/** Kafka's ConfigSource code for a topic's own override. */
const DYNAMIC_TOPIC_CONFIG = 1;
const TOPIC_RESOURCE = 2;

/** Kafka prints topic ids in base64url; the client hands them over as hex UUIDs. */
function kafkaTopicId(uuid: string): string {
  const hex = uuid.replaceAll('-', '');
  return /^[0-9a-f]{32}$/i.test(hex) ? Buffer.from(hex, 'hex').toString('base64url') : uuid;
}

function requireTopic(flags: ParsedFlags): string {
  const topic = flags.values.get('topic');
  if (!topic) throw new UsageError('--topic is required');
  return topic;
}

/** Error codes from the client's wrapped protocol errors, to tell "already exists" from real failures. */
function hasApiError(error: unknown, id: string): boolean {
  const e = error as { apiId?: string; errors?: unknown[]; response?: unknown };
  if (e?.apiId === id) return true;
  return (e?.errors ?? []).some((inner) => hasApiError(inner, id));
}

async function create(admin: Admin, flags: ParsedFlags): Promise<string> {
  const topic = requireTopic(flags);
  const configs = (flags.repeated.get('config') ?? []).map((pair) => {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--config needs key=value, not '${pair}'`);
    return { name: pair.slice(0, eq), value: pair.slice(eq + 1) };
  });
  try {
    await admin.createTopics({
      topics: [topic],
      partitions: integerFlag(flags, 'partitions') ?? -1,
      replicas: integerFlag(flags, 'replication-factor') ?? -1,
      configs,
    });
  } catch (e) {
    if (flags.switches.has('if-not-exists') && hasApiError(e, 'TOPIC_ALREADY_EXISTS')) return '';
    throw e;
  }
  return `Created topic ${topic}.`;
}

async function list(admin: Admin, flags: ParsedFlags): Promise<string> {
  const topics = await admin.listTopics({ includeInternals: !flags.switches.has('exclude-internal') });
  return topics.sort().join('\n');
}

async function describe(admin: Admin, flags: ParsedFlags): Promise<string> {
  const named = flags.values.get('topic');
  const names = named
    ? [named]
    : (await admin.listTopics({ includeInternals: !flags.switches.has('exclude-internal') })).sort();
  if (names.length === 0) return '';
  const metadata = await admin.metadata({ topics: names, forceUpdate: true });
  const configs = await admin.describeConfigs({
    resources: names.map((resourceName) => ({ resourceType: TOPIC_RESOURCE, resourceName })),
  });
  const lines: string[] = [];
  for (const name of names) {
    const topic = metadata.topics.get(name);
    if (!topic) throw new UsageError(`Topic '${name}' does not exist as expected`);
    const overrides = (configs.find((c) => c.resourceName === name)?.configs ?? [])
      .filter((c) => c.configSource === DYNAMIC_TOPIC_CONFIG)
      .map((c) => `${c.name}=${c.value}`)
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

async function alter(admin: Admin, flags: ParsedFlags): Promise<string> {
  const topic = requireTopic(flags);
  const count = integerFlag(flags, 'partitions');
  if (count === undefined) throw new UsageError('--alter needs --partitions');
  await admin.createPartitions({ topics: [{ name: topic, count }] });
  return '';
}

async function remove(admin: Admin, flags: ParsedFlags): Promise<string> {
  const topic = requireTopic(flags);
  try {
    await admin.deleteTopics({ topics: [topic] });
  } catch (e) {
    if (flags.switches.has('if-exists') && hasApiError(e, 'UNKNOWN_TOPIC_OR_PARTITION')) return '';
    throw e;
  }
  return '';
}

const ACTIONS = { create, list, describe, alter, delete: remove } as const;

/** `samsa topics`: Kafka's kafka-topics.sh. Returns the exit code. */
export async function runTopics(argv: string[]): Promise<number> {
  let flags: ParsedFlags;
  let bootstrap: string[];
  let action: keyof typeof ACTIONS;
  try {
    flags = parseFlags(argv, FLAGS);
    bootstrap = bootstrapServers(flags);
    const chosen = (Object.keys(ACTIONS) as Array<keyof typeof ACTIONS>).filter((a) => flags.switches.has(a));
    if (chosen.length !== 1)
      throw new UsageError('give exactly one of --create, --list, --describe, --alter, --delete');
    action = chosen[0]!;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`samsa topics: ${e.message}\n\n${TOPICS_USAGE}`);
    return 2;
  }
  const admin = adminClient(bootstrap);
  try {
    const out = await ACTIONS[action](admin, flags);
    if (out) console.log(out);
    return 0;
  } catch (e) {
    console.error(e instanceof UsageError ? `samsa topics: ${e.message}` : describeFailure('topics', bootstrap, e));
    return 1;
  } finally {
    await admin.close().catch(() => {});
  }
}
