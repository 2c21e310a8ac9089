import { createInterface } from 'node:readline';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { clientOptions, describeFailure } from './client.js';
import { bootstrapServers, type ParsedFlags, parseFlags, UsageError } from './flags.js';

export const CONSOLE_PRODUCER_USAGE = `usage: samsa console-producer --bootstrap-server HOST:PORT --topic T [options]

Reads lines from standard input and sends each as a record (as Kafka's kafka-console-producer.sh).
  --property parse.key=true           split each line into key and value at key.separator
  --property key.separator=SEP        default: a tab
  --compression-codec [CODEC]         none, gzip (the default when the flag has no value), snappy, lz4,
                                      zstd (zstd needs Node.js 22 or newer in the client library)
  --request-required-acks ACKS        -1 (all, the default), 0 or 1
  --producer-property acks=ACKS       the same; other producer properties are reported and ignored`;

const FLAGS = {
  'bootstrap-server': 'value',
  'broker-list': 'value',
  topic: 'value',
  property: 'repeated',
  'compression-codec': 'value',
  'request-required-acks': 'value',
  'producer-property': 'repeated',
} as const;

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
type Codec = (typeof CODECS)[number];
/** Lines sent per produce request while input keeps coming. */
const LINES_PER_SEND = 500;

function properties(flags: ParsedFlags, name: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of flags.repeated.get(name) ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${name} needs key=value, not '${pair}'`);
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

/** Kafka's --compression-codec may be given without a value, meaning gzip. */
function normaliseArgs(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    out.push(argv[i]!);
    if (argv[i] === '--compression-codec' && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--')))
      out.push('gzip');
  }
  return out;
}

/** `samsa console-producer`: Kafka's kafka-console-producer.sh. Returns the exit code. */
export async function runConsoleProducer(argv: string[]): Promise<number> {
  let bootstrap: string[];
  let topic: string;
  let parseKey: boolean;
  let separator: string;
  let codec: Codec;
  let acks: number;
  try {
    const flags = parseFlags(normaliseArgs(argv), FLAGS);
    bootstrap = bootstrapServers(flags);
    const t = flags.values.get('topic');
    if (!t) throw new UsageError('--topic is required');
    topic = t;
    const props = properties(flags, 'property');
    parseKey = props.get('parse.key') === 'true';
    separator = props.get('key.separator') ?? '\t';
    const c = (flags.values.get('compression-codec') ?? 'none') as Codec;
    if (!CODECS.includes(c)) throw new UsageError(`unknown compression codec '${c}'`);
    codec = c;
    const producerProps = properties(flags, 'producer-property');
    const ackText = flags.values.get('request-required-acks') ?? producerProps.get('acks') ?? '-1';
    acks = ackText === 'all' ? -1 : Number(ackText);
    if (![-1, 0, 1].includes(acks)) throw new UsageError(`acks must be -1 (all), 0 or 1, not '${ackText}'`);
    for (const key of producerProps.keys())
      if (key !== 'acks') console.error(`samsa console-producer: producer property ${key} is ignored`);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`samsa console-producer: ${e.message}\n\n${CONSOLE_PRODUCER_USAGE}`);
    return 2;
  }
  const producer = new Producer({
    ...clientOptions(bootstrap),
    serializers: stringSerializers,
    compression: codec,
    acks,
  });
  let pending: string[] = [];
  let sending: Promise<void> = Promise.resolve();
  let failure: unknown = null;
  const toMessage = (line: string) => {
    if (!parseKey) return { topic, value: line };
    const at = line.indexOf(separator);
    if (at < 0) throw new UsageError(`No key separator found on line: ${line}`);
    return { topic, key: line.slice(0, at), value: line.slice(at + separator.length) };
  };
  // Lines are sent in order, a batch at a time; a batch leaves once input pauses or it is full.
  const flush = () => {
    if (pending.length === 0) return;
    const lines = pending;
    pending = [];
    sending = sending.then(async () => {
      if (failure) return;
      try {
        await producer.send({ messages: lines.map(toMessage) });
      } catch (e) {
        failure = e;
      }
    });
  };
  let timer: NodeJS.Timeout | null = null;
  const input = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  input.on('line', (line) => {
    pending.push(line);
    if (pending.length >= LINES_PER_SEND) flush();
    else
      timer ??= setTimeout(() => {
        timer = null;
        flush();
      }, 0);
  });
  await new Promise<void>((resolve) => input.once('close', resolve));
  if (timer) clearTimeout(timer);
  flush();
  await sending;
  await producer.close().catch(() => {});
  if (failure) {
    console.error(
      failure instanceof UsageError
        ? `samsa console-producer: ${failure.message}`
        : describeFailure('console-producer', bootstrap, failure),
    );
    return 1;
  }
  return 0;
}
