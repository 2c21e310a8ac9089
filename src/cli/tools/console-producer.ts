import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseProperties } from '../../config/properties.js';
import {
  bootstrapServers,
  FAILURE_EXIT_CODE,
  keyValueFlags,
  type ParsedFlags,
  parseFlags,
  requiredFlag,
  UsageError,
  usageExit,
} from './args.js';
import { clientLibrary, clientOptions, describeFailure, ToolError } from './client.js';
import { type ClientSecurity, clientSecurity, isSecurityProperty } from './client-security.js';

const CONSOLE_PRODUCER_USAGE = `usage: samsa console-producer --bootstrap-server HOST:PORT --topic T [options]

Reads lines from standard input and sends each as a record (as Kafka's kafka-console-producer.sh); exits at the
end of the input once every record is acknowledged.
  --property parse.key=true             split each line into key and value at key.separator
  --property key.separator=SEP          default: a tab
  --property ignore.error=true          a line without the separator becomes a value without a key
  --property null.marker=M              a key or value equal to M is sent as null
  --compression-codec [CODEC]           none, gzip (the default when the flag has no value), snappy, lz4, zstd
  --sync                                send each line on its own, once the previous one is acknowledged
  --request-required-acks ACKS          -1 or all (the default), 0 or 1
  --producer-property k=v               a producer property; acks, compression.type, linger.ms, batch.size,
                                        client.id, request.timeout.ms, retries, retry.backoff.ms,
                                        metadata.max.age.ms, enable.idempotence and the security properties
                                        (security.protocol, sasl.*, ssl.*, as for --command-config) apply,
                                        others are ignored
  --producer.config FILE                producer properties from a file (--producer-property wins)
  --timeout MS, --batch-size BYTES, --request-timeout-ms MS, --message-send-max-retries N,
  --retry-backoff-ms MS, --metadata-expiry-ms MS
                                        Kafka's shorthands for linger.ms, batch.size, request.timeout.ms,
                                        retries, retry.backoff.ms and metadata.max.age.ms`;

/** Kafka's shorthand flags and the producer property each sets; given, they win over --producer-property. */
const SHORTHANDS = {
  'compression-codec': 'compression.type',
  'request-required-acks': 'acks',
  timeout: 'linger.ms',
  'batch-size': 'batch.size',
  'request-timeout-ms': 'request.timeout.ms',
  'message-send-max-retries': 'retries',
  'retry-backoff-ms': 'retry.backoff.ms',
  'metadata-expiry-ms': 'metadata.max.age.ms',
} as const;

const FLAGS = {
  'bootstrap-server': 'value',
  'broker-list': 'value',
  topic: 'value',
  property: 'repeated',
  'producer-property': 'repeated',
  'producer.config': 'value',
  sync: 'switch',
  'compression-codec': 'optional',
  'request-required-acks': 'value',
  timeout: 'value',
  'batch-size': 'value',
  'request-timeout-ms': 'value',
  'message-send-max-retries': 'value',
  'retry-backoff-ms': 'value',
  'metadata-expiry-ms': 'value',
} as const;

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
type Codec = (typeof CODECS)[number];
/** Kafka's --compression-codec without a value. */
const DEFAULT_CODEC_FLAG: Codec = 'gzip';

/** How the producer sends: the library's options, and how lines are grouped into requests. */
interface ProducerSettings {
  acks: number;
  compression: Codec;
  /** How long a request waits for more lines; 0 sends as soon as the input pauses. */
  lingerMs: number;
  /** A request leaves once its lines reach this many bytes. */
  batchBytes: number;
  clientId?: string;
  timeout?: number;
  retries?: number;
  retryDelay?: number;
  metadataMaxAge?: number;
  /** enable.idempotence as given; unset means Kafka's default, on unless acks is not all. */
  idempotent?: boolean;
}

/**
 * Kafka's batch.size default. Kafka applies it per partition; here it bounds a whole request, which keeps every
 * batch well under the broker's default message.max.bytes whatever the number of partitions.
 */
const DEFAULT_BATCH_BYTES = 16_384;
/** Requests waiting to be sent before the input is paused, so that a large file is not read into memory whole. */
const MAX_QUEUED_REQUESTS = 4;

/** Kafka's acks values: all (the same as -1) waits for every in-sync replica, 1 for the leader, 0 for nothing. */
const ACKS: Readonly<Record<string, number>> = { all: -1, '-1': -1, '1': 1, '0': 0 };

function nonNegative(name: string, text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${name} must be a non-negative integer, not '${text}'`);
  return Number(text);
}

/** Producer properties with a counterpart in the client library (or in this tool's batching), and how each applies. */
const PRODUCER_PROPERTIES: Record<string, (value: string, s: ProducerSettings) => void> = {
  acks: (v, s) => {
    const acks = ACKS[v.trim()];
    if (acks === undefined) throw new UsageError(`acks must be all, -1, 0 or 1, not '${v}'`);
    s.acks = acks;
  },
  'compression.type': (v, s) => {
    const codec = (v === '' ? DEFAULT_CODEC_FLAG : v) as Codec;
    if (!CODECS.includes(codec)) throw new UsageError(`unknown compression codec '${v}' (${CODECS.join(', ')})`);
    s.compression = codec;
  },
  'linger.ms': (v, s) => {
    s.lingerMs = nonNegative('linger.ms', v);
  },
  'batch.size': (v, s) => {
    s.batchBytes = nonNegative('batch.size', v);
  },
  'enable.idempotence': (v, s) => {
    const text = v.trim().toLowerCase();
    if (text !== 'true' && text !== 'false')
      throw new UsageError(`enable.idempotence must be true or false, not '${v}'`);
    s.idempotent = text === 'true';
  },
  'client.id': (v, s) => {
    s.clientId = v;
  },
  'request.timeout.ms': (v, s) => {
    s.timeout = nonNegative('request.timeout.ms', v);
  },
  retries: (v, s) => {
    s.retries = nonNegative('retries', v);
  },
  'retry.backoff.ms': (v, s) => {
    s.retryDelay = nonNegative('retry.backoff.ms', v);
  },
  'metadata.max.age.ms': (v, s) => {
    s.metadataMaxAge = nonNegative('metadata.max.age.ms', v);
  },
  // --bootstrap-server is required and wins, as in Kafka's tool.
  'bootstrap.servers': () => {},
};

/** How lines become records: Kafka's LineMessageReader properties. */
interface LineFormat {
  parseKey: boolean;
  keySeparator: string;
  ignoreError: boolean;
  nullMarker: string | undefined;
}

interface ProducerCommand {
  bootstrap: string[];
  topic: string;
  format: LineFormat;
  settings: ProducerSettings;
  sync: boolean;
  /** Properties given but without effect here, reported before sending. */
  ignored: string[];
  security: ClientSecurity;
}

async function parseCommand(argv: string[]): Promise<ProducerCommand> {
  const flags: ParsedFlags = parseFlags(argv, FLAGS);
  const bootstrap = bootstrapServers(flags);
  const topic = requiredFlag(flags, 'topic');
  const reader = keyValueFlags(flags, 'property');
  const format: LineFormat = {
    parseKey: reader.get('parse.key')?.trim().toLowerCase() === 'true',
    keySeparator: reader.get('key.separator') ?? '\t',
    ignoreError: reader.get('ignore.error')?.trim().toLowerCase() === 'true',
    nullMarker: reader.get('null.marker'),
  };
  if (format.keySeparator === '') throw new UsageError('key.separator must not be empty');

  // Kafka's precedence: the config file, then --producer-property, then the shorthand flags.
  const properties = new Map<string, string>();
  const file = flags.values.get('producer.config');
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read --producer.config ${file}: ${(e as Error).message}`);
    }
    for (const [key, { value }] of parseProperties(text)) properties.set(key, value);
  }
  for (const [key, value] of keyValueFlags(flags, 'producer-property')) properties.set(key, value);
  for (const [flag, key] of Object.entries(SHORTHANDS)) {
    const value = flags.values.get(flag);
    if (value !== undefined) properties.set(key, value);
  }

  const settings: ProducerSettings = {
    acks: -1,
    compression: 'none',
    lingerMs: 0,
    batchBytes: DEFAULT_BATCH_BYTES,
  };
  const ignored: string[] = [];
  for (const [key, value] of properties) {
    const apply = PRODUCER_PROPERTIES[key];
    if (apply) apply(value, settings);
    else if (!isSecurityProperty(key)) ignored.push(key);
  }
  if (settings.idempotent === true && settings.acks !== -1) {
    throw new UsageError('enable.idempotence=true needs acks=all, as in Kafka');
  }
  const security = await clientSecurity(properties);
  return { bootstrap, topic, format, settings, sync: flags.switches.has('sync'), ignored, security };
}

interface LineRecord {
  topic: string;
  key?: string;
  value?: string;
}

/** One line as a record, as Kafka's LineMessageReader reads it. */
function toRecord(topic: string, format: LineFormat, line: string, lineNumber: number): LineRecord {
  const nullable = (text: string) => (text === format.nullMarker ? undefined : text);
  if (!format.parseKey) return { topic, value: nullable(line) };
  const at = line.indexOf(format.keySeparator);
  if (at < 0) {
    if (format.ignoreError) return { topic, value: nullable(line) };
    throw new ToolError(`No key separator found on line number ${lineNumber}: '${line}'`);
  }
  return {
    topic,
    key: nullable(line.slice(0, at)),
    value: nullable(line.slice(at + format.keySeparator.length)),
  };
}

/** `samsa console-producer`: Kafka's kafka-console-producer.sh. Returns the exit code. */
export async function runConsoleProducer(argv: string[]): Promise<number> {
  let command: ProducerCommand;
  try {
    command = await parseCommand(argv);
  } catch (e) {
    return usageExit('console-producer', CONSOLE_PRODUCER_USAGE, e);
  }
  const { bootstrap, topic, format, settings, sync } = command;
  for (const key of command.ignored)
    console.error(`samsa console-producer: producer property ${key} has no effect here and is ignored`);

  const { Producer, stringSerializers } = await clientLibrary();
  const producer = new Producer({
    ...clientOptions(bootstrap, command.security),
    ...(settings.clientId !== undefined && { clientId: settings.clientId }),
    ...(settings.timeout !== undefined && { timeout: settings.timeout }),
    ...(settings.retries !== undefined && { retries: settings.retries }),
    ...(settings.retryDelay !== undefined && { retryDelay: settings.retryDelay }),
    ...(settings.metadataMaxAge !== undefined && { metadataMaxAge: settings.metadataMaxAge }),
    serializers: stringSerializers,
    compression: settings.compression,
    acks: settings.acks,
    // Kafka's producer is idempotent by default, unless acks is not all; asking for both is an error there too.
    idempotent: settings.idempotent ?? settings.acks === -1,
    // Kafka's producer asks for missing topics to be created (the broker decides, by auto.create.topics.enable).
    autocreateTopics: true,
  });

  const input = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  let closed = false;
  // A line that cannot be read stops the input, but the lines before it are still sent, as in Kafka's tool; a
  // failed send stops everything.
  let inputFailure: unknown = null;
  let sendFailure: unknown = null;
  const stop = () => {
    if (!closed) input.close();
  };
  input.once('close', () => {
    closed = true;
  });
  // Ctrl-C ends the input: what was read is still sent, as Kafka's tool flushes on shutdown.
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  // Lines are sent in order, one request at a time; a request leaves when it is full, after linger.ms, or (with
  // the default linger of 0) as soon as the input pauses, so that lines typed by hand go out at once.
  let pending: LineRecord[] = [];
  let pendingBytes = 0;
  let queued = 0;
  let sending: Promise<void> = Promise.resolve();
  let linger: NodeJS.Timeout | null = null;
  const flush = () => {
    if (linger) clearTimeout(linger);
    linger = null;
    if (pending.length === 0 || sendFailure !== null) return;
    const messages = pending;
    pending = [];
    pendingBytes = 0;
    if (++queued >= MAX_QUEUED_REQUESTS && !closed) input.pause();
    sending = sending.then(async () => {
      try {
        if (sendFailure === null) await producer.send({ messages });
      } catch (e) {
        sendFailure ??= e;
        stop();
      } finally {
        if (--queued < MAX_QUEUED_REQUESTS && !closed) input.resume();
      }
    });
  };

  let lineNumber = 0;
  input.on('line', (line) => {
    if (inputFailure !== null || sendFailure !== null) return;
    lineNumber++;
    try {
      pending.push(toRecord(topic, format, line, lineNumber));
    } catch (e) {
      inputFailure = e;
      stop();
      return;
    }
    pendingBytes += Buffer.byteLength(line);
    if (sync || pendingBytes >= settings.batchBytes) flush();
    else linger ??= setTimeout(flush, settings.lingerMs);
  });

  if (!closed) await once(input, 'close');
  flush();
  await sending;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  await producer.close().catch(() => {});
  const failure = sendFailure ?? inputFailure;
  if (failure !== null) {
    console.error(describeFailure('console-producer', bootstrap, failure));
    return FAILURE_EXIT_CODE;
  }
  return 0;
}
