import type { Admin } from '@platformatic/kafka';
import { bootstrapServers, FAILURE_EXIT_CODE, type ParsedFlags, parseFlags, UsageError, usageExit } from './args.js';
import { adminClient, commandConfigSecurity, describeFailure, ToolError } from './client.js';
import { type ClientSecurity, COMMAND_CONFIG_HELP } from './client-security.js';

const GET_OFFSETS_USAGE = `usage: samsa get-offsets --bootstrap-server HOST:PORT [options]

options (as Kafka's kafka-get-offsets.sh, GetOffsetShell):
  --topic PATTERN           topics to cover: a regular expression over whole names (default: all topics)
  --partitions LIST         partition ids and ranges, comma-separated (0,2,5-7; default: all)
  --time T                  -1 or latest (default), -2 or earliest, -3 or max-timestamp, or a timestamp in ms
  --exclude-internal-topics leave out internal topics when --topic is not given

Prints topic:partition:offset, one line per partition.

${COMMAND_CONFIG_HELP}`;

const FLAGS = {
  'bootstrap-server': 'value',
  'command-config': 'value',
  'broker-list': 'value',
  topic: 'value',
  partitions: 'value',
  time: 'value',
  'exclude-internal-topics': 'switch',
} as const;

/** ListOffsets' answer for a partition with no record at or after the timestamp: Kafka's tool prints no line. */
const UNKNOWN_OFFSET = -1n;

/** ListOffsets' special timestamps, and the names GetOffsetShell accepts for them. */
const TIME_NAMES: Record<string, bigint> = { latest: -1n, earliest: -2n, 'max-timestamp': -3n };
const LATEST = -1n;

interface PartitionRange {
  first: number;
  last: number;
}

interface GetOffsetsCommand {
  include: RegExp | undefined;
  partitions: PartitionRange[] | undefined;
  time: bigint;
  excludeInternal: boolean;
}

function parseTime(text: string | undefined): bigint {
  if (text === undefined) return LATEST;
  const named = TIME_NAMES[text];
  if (named !== undefined) return named;
  if (!/^-?\d+$/.test(text)) throw new UsageError(`--time must be a timestamp or -1, -2, -3, not '${text}'`);
  return BigInt(text);
}

function parsePartitions(text: string | undefined): PartitionRange[] | undefined {
  if (text === undefined) return undefined;
  return text.split(',').map((part) => {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (!m) throw new UsageError(`--partitions needs ids or ranges (0,2,5-7), not '${text}'`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) throw new UsageError(`--partitions range '${part}' ends before it starts`);
    return { first, last };
  });
}

function parseCommand(flags: ParsedFlags): GetOffsetsCommand {
  const topic = flags.values.get('topic');
  let include: RegExp | undefined;
  if (topic !== undefined) {
    try {
      include = new RegExp(`^(?:${topic.replaceAll(',', '|')})$`);
    } catch {
      throw new UsageError(`--topic '${topic}' is not a valid regular expression`);
    }
  }
  return {
    include,
    partitions: parsePartitions(flags.values.get('partitions')),
    time: parseTime(flags.values.get('time')),
    excludeInternal: flags.switches.has('exclude-internal-topics'),
  };
}

async function getOffsets(admin: Admin, c: GetOffsetsCommand): Promise<string> {
  const names = (await admin.listTopics({ includeInternals: c.include !== undefined || !c.excludeInternal }))
    .filter((name) => c.include?.test(name) ?? true)
    .sort();
  const nothing = new ToolError('Could not match any topic-partitions with the specified filters');
  if (names.length === 0) throw nothing;
  const metadata = await admin.metadata({ topics: names, forceUpdate: true });
  const wanted = (p: number) => c.partitions?.some((r) => p >= r.first && p <= r.last) ?? true;
  const request = names.flatMap((name) => {
    const count = metadata.topics.get(name)?.partitionsCount ?? 0;
    const partitions = Array.from({ length: count }, (_, i) => i)
      .filter(wanted)
      .map((partitionIndex) => ({ partitionIndex, timestamp: c.time }));
    return partitions.length > 0 ? [{ name, partitions }] : [];
  });
  if (request.length === 0) throw nothing;
  const listed = await admin.listOffsets({ topics: request });
  const lines: Array<{ topic: string; partition: number; offset: bigint }> = [];
  for (const topic of listed) {
    for (const p of topic.partitions) {
      if (p.offset !== UNKNOWN_OFFSET) lines.push({ topic: topic.name, partition: p.partitionIndex, offset: p.offset });
    }
  }
  lines.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  return lines.map((l) => `${l.topic}:${l.partition}:${l.offset}`).join('\n');
}

/** `samsa get-offsets`: Kafka's kafka-get-offsets.sh (GetOffsetShell). Returns the exit code. */
export async function runGetOffsets(argv: string[]): Promise<number> {
  let bootstrap: string[];
  let command: GetOffsetsCommand;
  let security: ClientSecurity;
  try {
    const flags = parseFlags(argv, FLAGS);
    bootstrap = bootstrapServers(flags);
    command = parseCommand(flags);
    security = await commandConfigSecurity(flags);
  } catch (e) {
    return usageExit('get-offsets', GET_OFFSETS_USAGE, e);
  }
  const admin = await adminClient(bootstrap, security);
  try {
    const out = await getOffsets(admin, command);
    if (out) console.log(out);
    return 0;
  } catch (e) {
    console.error(describeFailure('get-offsets', bootstrap, e));
    return FAILURE_EXIT_CODE;
  } finally {
    await admin.close().catch(() => {});
  }
}
