import { randomInt } from 'node:crypto';
import { Consumer, stringDeserializers } from '@platformatic/kafka';
import { adminClient, clientOptions, describeFailure } from './client.js';
import { bootstrapServers, integerFlag, type ParsedFlags, parseFlags, UsageError } from './flags.js';

export const CONSOLE_CONSUMER_USAGE = `usage: samsa console-consumer --bootstrap-server HOST:PORT --topic T [options]

Prints records to standard output (as Kafka's kafka-console-consumer.sh).
  --from-beginning              start at the earliest offset when there is no committed one
  --partition P                 read only this partition
  --offset earliest|latest|N    where to start in --partition (default: latest, or earliest with --from-beginning)
  --group G                     consume as a member of group G, committing offsets
  --max-messages N              exit after N records
  --timeout-ms MS               exit when no record arrives for this long
  --property print.key=true print.timestamp=true print.partition=true print.offset=true
             print.value=false key.separator=SEP`;

const FLAGS = {
  'bootstrap-server': 'value',
  topic: 'value',
  'from-beginning': 'switch',
  partition: 'value',
  offset: 'value',
  group: 'value',
  'max-messages': 'value',
  'timeout-ms': 'value',
  property: 'repeated',
} as const;

interface Format {
  key: boolean;
  value: boolean;
  timestamp: boolean;
  partition: boolean;
  offset: boolean;
  separator: string;
}

function format(flags: ParsedFlags): Format {
  const props = new Map<string, string>();
  for (const pair of flags.repeated.get('property') ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--property needs key=value, not '${pair}'`);
    props.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return {
    key: props.get('print.key') === 'true',
    value: props.get('print.value') !== 'false',
    timestamp: props.get('print.timestamp') === 'true',
    partition: props.get('print.partition') === 'true',
    offset: props.get('print.offset') === 'true',
    separator: props.get('key.separator') ?? '\t',
  };
}

/** Kafka's DefaultMessageFormatter: timestamp, partition, offset, then key and value. */
function render(
  f: Format,
  m: { key: string | null; value: string | null; partition: number; offset: bigint; timestamp: bigint },
): string {
  const fields: string[] = [];
  if (f.timestamp) fields.push(`CreateTime:${m.timestamp}`);
  if (f.partition) fields.push(`Partition:${m.partition}`);
  if (f.offset) fields.push(`Offset:${m.offset}`);
  const body: string[] = [];
  if (f.key) body.push(m.key ?? 'null');
  if (f.value) body.push(m.value ?? 'null');
  if (body.length > 0) fields.push(body.join(f.separator));
  return fields.join('\t');
}

/** `samsa console-consumer`: Kafka's kafka-console-consumer.sh. Returns the exit code. */
export async function runConsoleConsumer(argv: string[]): Promise<number> {
  let flags: ParsedFlags;
  let bootstrap: string[];
  let topic: string;
  let fmt: Format;
  let partition: number | undefined;
  let maxMessages: number | undefined;
  let timeoutMs: number | undefined;
  try {
    flags = parseFlags(argv, FLAGS);
    bootstrap = bootstrapServers(flags);
    const t = flags.values.get('topic');
    if (!t) throw new UsageError('--topic is required');
    topic = t;
    fmt = format(flags);
    partition = integerFlag(flags, 'partition');
    maxMessages = integerFlag(flags, 'max-messages');
    timeoutMs = integerFlag(flags, 'timeout-ms');
    if (flags.values.has('offset') && partition === undefined)
      throw new UsageError('The partition is required when offset is specified.');
    if (partition !== undefined && flags.values.has('group'))
      throw new UsageError('Options group and partition cannot be specified together.');
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`samsa console-consumer: ${e.message}\n\n${CONSOLE_CONSUMER_USAGE}`);
    return 2;
  }
  const fromBeginning = flags.switches.has('from-beginning');
  const group = flags.values.get('group');
  const consumer = new Consumer({
    ...clientOptions(bootstrap),
    // Kafka's console consumer also joins a throwaway group when none is given.
    groupId: group ?? `console-consumer-${randomInt(100_000)}`,
    deserializers: stringDeserializers,
  });
  let count = 0;
  try {
    let stream: Awaited<ReturnType<typeof consumer.consume>>;
    if (partition !== undefined) {
      // One partition: start it where asked, and every other partition at its end (their records are skipped).
      const admin = adminClient(bootstrap);
      const offsets: Array<{ topic: string; partition: number; offset: bigint }> = [];
      try {
        const metadata = await admin.metadata({ topics: [topic] });
        const count = metadata.topics.get(topic)?.partitionsCount;
        if (count === undefined || partition >= count)
          throw new UsageError(`partition ${partition} of ${topic} does not exist`);
        const position = async (timestamp: bigint, p: number) =>
          (await admin.listOffsets({ topics: [{ name: topic, partitions: [{ partitionIndex: p, timestamp }] }] }))[0]!
            .partitions[0]!.offset;
        for (let p = 0; p < count; p++) {
          const asked =
            p === partition ? (flags.values.get('offset') ?? (fromBeginning ? 'earliest' : 'latest')) : 'latest';
          const offset =
            asked === 'earliest' ? await position(-2n, p) : asked === 'latest' ? await position(-1n, p) : BigInt(asked);
          offsets.push({ topic, partition: p, offset });
        }
      } finally {
        await admin.close().catch(() => {});
      }
      stream = await consumer.consume({ topics: [topic], mode: 'manual', offsets, autocommit: false });
    } else {
      stream = await consumer.consume({
        topics: [topic],
        mode: group ? 'committed' : fromBeginning ? 'earliest' : 'latest',
        fallbackMode: fromBeginning ? 'earliest' : 'latest',
        autocommit: group !== undefined,
      });
    }
    await new Promise<void>((resolve, reject) => {
      let idle: NodeJS.Timeout | null = null;
      const armIdle = () => {
        if (timeoutMs === undefined) return;
        if (idle) clearTimeout(idle);
        idle = setTimeout(resolve, timeoutMs);
      };
      armIdle();
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      stream.on('error', reject);
      stream.on('data', (m) => {
        if (partition !== undefined && m.partition !== partition) return;
        if (maxMessages !== undefined && count >= maxMessages) return;
        process.stdout.write(`${render(fmt, m)}\n`);
        count++;
        armIdle();
        if (maxMessages !== undefined && count >= maxMessages) resolve();
      });
    });
    await stream.close().catch(() => {});
    console.error(`Processed a total of ${count} messages`);
    return 0;
  } catch (e) {
    console.error(
      e instanceof UsageError
        ? `samsa console-consumer: ${e.message}`
        : describeFailure('console-consumer', bootstrap, e),
    );
    return 1;
  } finally {
    await (consumer.close(true) as unknown as Promise<void>).catch(() => {});
  }
}
