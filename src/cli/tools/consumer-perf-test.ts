import type { Consumer, Message } from '@platformatic/kafka';
import {
  bootstrapServers,
  FAILURE_EXIT_CODE,
  integerFlag,
  type ParsedFlags,
  parseFlags,
  requiredFlag,
  UsageError,
} from './args.js';
import { clientLibrary, clientOptions, describeFailure } from './client.js';
import { type ClientSecurity, clientSecurity } from './client-security.js';
import { fixed, kafkaUsageExit, loadProperties } from './perf-args.js';

const CONSUMER_PERF_USAGE = `usage: samsa consumer-perf-test --bootstrap-server HOST:PORT --topic TOPIC --messages N [options]

Consumes N records as a member of a consumer group and reports the throughput (as Kafka's
kafka-consumer-perf-test.sh): one CSV line, or one per --reporting-interval with --show-detailed-stats.
  --group G                  the group (default perf-consumer-<random>)
  --from-latest              start at the log end when the group has no committed offset (default: earliest)
  --fetch-size BYTES         most bytes fetched per partition and request (default 1048576)
  --timeout MS               give up once no record arrived for this long (default 10000)
  --show-detailed-stats      a line per reporting interval instead of the summary
  --reporting-interval MS    (default 5000)
  --hide-header              no header line
  --date-format FORMAT       Java SimpleDateFormat letters y M d H m s S (default yyyy-MM-dd HH:mm:ss:SSS)
  --consumer.config FILE     consumer properties; client.id, group.id and the security properties
                             (security.protocol, sasl.*, ssl.*) apply
  --print-metrics            not available: the client has no consumer metrics to print`;

const FLAGS = {
  'bootstrap-server': 'value',
  'broker-list': 'value',
  topic: 'value',
  messages: 'value',
  group: 'value',
  'from-latest': 'switch',
  'fetch-size': 'value',
  'socket-buffer-size': 'value',
  timeout: 'value',
  'show-detailed-stats': 'switch',
  'reporting-interval': 'value',
  'hide-header': 'switch',
  'date-format': 'value',
  'consumer.config': 'value',
  'print-metrics': 'switch',
} as const;

/** Kafka's defaults. */
const DEFAULT_FETCH_SIZE = 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_REPORTING_INTERVAL_MS = 5000;
const DEFAULT_DATE_FORMAT = 'yyyy-MM-dd HH:mm:ss:SSS';
const DEFAULT_GROUP_PREFIX = 'perf-consumer-';
const GROUP_SUFFIX_RANGE = 100_000;
/** How often the idle time is checked against --timeout (Kafka's tool polls every 100 ms). */
const POLL_MS = 100;
const BYTES_PER_MB = 1024 * 1024;

interface PerfCommand {
  bootstrap: string[];
  topic: string;
  messages: number;
  group: string;
  clientId: string | undefined;
  fromLatest: boolean;
  fetchSize: number;
  timeoutMs: number;
  detailed: boolean;
  reportingIntervalMs: number;
  hideHeader: boolean;
  dateFormat: string;
  security: ClientSecurity;
}

async function parseCommand(flags: ParsedFlags): Promise<PerfCommand> {
  if (flags.switches.has('print-metrics'))
    throw new UsageError('--print-metrics is not available: the client library keeps no consumer metrics');
  const bootstrap = bootstrapServers(flags);
  const topic = requiredFlag(flags, 'topic');
  const messages = integerFlag(flags, 'messages', 1);
  if (messages === undefined) throw new UsageError('--messages is required');
  const props = await loadProperties(flags.values.get('consumer.config'), []);
  const dateFormat = flags.values.get('date-format') ?? DEFAULT_DATE_FORMAT;
  if (/[A-Za-z]/.test(dateFormat.replace(/[yMdHmsS]/g, '')))
    throw new UsageError(`--date-format supports the letters y M d H m s S only, not '${dateFormat}'`);
  return {
    bootstrap,
    topic,
    messages,
    group:
      flags.values.get('group') ??
      props.get('group.id') ??
      `${DEFAULT_GROUP_PREFIX}${Math.floor(Math.random() * GROUP_SUFFIX_RANGE)}`,
    clientId: props.get('client.id'),
    fromLatest: flags.switches.has('from-latest'),
    fetchSize: integerFlag(flags, 'fetch-size', 1) ?? DEFAULT_FETCH_SIZE,
    timeoutMs: integerFlag(flags, 'timeout', 0) ?? DEFAULT_TIMEOUT_MS,
    detailed: flags.switches.has('show-detailed-stats'),
    reportingIntervalMs: integerFlag(flags, 'reporting-interval', 1) ?? DEFAULT_REPORTING_INTERVAL_MS,
    hideHeader: flags.switches.has('hide-header'),
    dateFormat,
    security: await clientSecurity(props),
  };
}

/** Java's SimpleDateFormat for the pattern letters of Kafka's default format, in local time. */
export function formatDate(ms: number, pattern: string): string {
  const d = new Date(ms);
  const fields: Record<string, number> = {
    y: d.getFullYear(),
    M: d.getMonth() + 1,
    d: d.getDate(),
    H: d.getHours(),
    m: d.getMinutes(),
    s: d.getSeconds(),
    S: d.getMilliseconds(),
  };
  return pattern.replace(/([yMdHmsS])\1*/g, (run) => {
    const value = String(fields[run[0]!]);
    // "yy" is the year's last two digits; other letters pad to the run's length.
    return run === 'yy' ? value.slice(-2) : value.padStart(run.length, '0');
  });
}

function header(detailed: boolean): string {
  const extended = ', rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec';
  return detailed
    ? `time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec${extended}`
    : `start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec${extended}`;
}

/** `samsa consumer-perf-test`: Kafka's kafka-consumer-perf-test.sh. Returns the exit code. */
export async function runConsumerPerfTest(argv: string[]): Promise<number> {
  let c: PerfCommand;
  try {
    c = await parseCommand(parseFlags(argv, FLAGS));
  } catch (e) {
    return kafkaUsageExit('consumer-perf-test', CONSUMER_PERF_USAGE, e);
  }
  if (!c.hideHeader) console.log(header(c.detailed));

  const { Consumer: ConsumerClass } = await clientLibrary();
  const consumer: Consumer = new ConsumerClass({
    ...clientOptions(c.bootstrap, c.security),
    ...(c.clientId !== undefined && { clientId: c.clientId }),
    groupId: c.group,
  });

  const startMs = Date.now();
  // Rebalance time: from the start (or from a rebalance) until the member has its assignment.
  let joinStartMs = startMs;
  let joinTimeMs = 0;
  let joinTimeInRoundMs = 0;
  let joined = false;
  consumer.on('consumer:group:rebalance', () => {
    joined = false;
    joinStartMs = Date.now();
  });
  consumer.on('consumer:group:join', () => {
    if (joined) return;
    joined = true;
    const elapsed = Date.now() - joinStartMs;
    joinTimeMs += elapsed;
    joinTimeInRoundMs += elapsed;
  });

  let messagesRead = 0;
  let bytesRead = 0;
  let lastMessagesRead = 0;
  let lastBytesRead = 0;
  let lastReportMs = startMs;
  let lastConsumedMs = startMs;
  let timedOut = false;
  let failure: unknown = null;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const idle = setInterval(() => {
    if (Date.now() - lastConsumedMs > c.timeoutMs) {
      timedOut = true;
      finish();
    }
  }, POLL_MS);

  const progress = (nowMs: number) => {
    const elapsedMs = nowMs - lastReportMs;
    const intervalMb = (bytesRead - lastBytesRead) / BYTES_PER_MB;
    const intervalMessages = messagesRead - lastMessagesRead;
    const fetchTimeMs = elapsedMs - joinTimeInRoundMs;
    console.log(
      `${formatDate(nowMs, c.dateFormat)}, 0, ${fixed(bytesRead / BYTES_PER_MB, 4)}, ` +
        `${fixed((1000 * intervalMb) / elapsedMs, 4)}, ${messagesRead}, ${fixed((intervalMessages / elapsedMs) * 1000, 4)}, ` +
        `${joinTimeInRoundMs}, ${fetchTimeMs}, ${fixed(fetchTimeMs <= 0 ? 0 : (1000 * intervalMb) / fetchTimeMs, 4)}, ` +
        `${fixed(fetchTimeMs <= 0 ? 0 : (1000 * intervalMessages) / fetchTimeMs, 4)}`,
    );
  };

  try {
    const stream = await consumer.consume({
      topics: [c.topic],
      mode: 'committed',
      fallbackMode: c.fromLatest ? 'latest' : 'earliest',
      maxBytesPerPartition: c.fetchSize,
    });
    stream.on('data', (m: Message) => {
      if (messagesRead >= c.messages) return;
      const nowMs = Date.now();
      lastConsumedMs = nowMs;
      messagesRead++;
      bytesRead += (m.key?.length ?? 0) + (m.value?.length ?? 0);
      if (nowMs - lastReportMs >= c.reportingIntervalMs) {
        if (c.detailed) progress(nowMs);
        joinTimeInRoundMs = 0;
        lastReportMs = nowMs;
        lastMessagesRead = messagesRead;
        lastBytesRead = bytesRead;
      }
      if (messagesRead >= c.messages) finish();
    });
    stream.once('error', (e: unknown) => {
      failure ??= e;
      finish();
    });
    await finished;
    await stream.close().catch(() => {});
  } catch (e) {
    failure ??= e;
  } finally {
    clearInterval(idle);
  }
  const endMs = Date.now();
  await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  if (failure !== null) {
    console.error(describeFailure('consumer-perf-test', c.bootstrap, failure));
    return FAILURE_EXIT_CODE;
  }
  if (timedOut && messagesRead < c.messages)
    console.log(
      `WARNING: Exiting before consuming the expected number of messages: timeout (${c.timeoutMs} ms) exceeded. ` +
        'You can use the --timeout option to increase the timeout.',
    );
  if (!c.detailed) {
    const elapsedSec = (endMs - startMs) / 1000;
    const fetchTimeMs = endMs - startMs - joinTimeMs;
    const totalMb = bytesRead / BYTES_PER_MB;
    console.log(
      `${formatDate(startMs, c.dateFormat)}, ${formatDate(endMs, c.dateFormat)}, ${fixed(totalMb, 4)}, ` +
        `${fixed(totalMb / elapsedSec, 4)}, ${messagesRead}, ${fixed(messagesRead / elapsedSec, 4)}, ${joinTimeMs}, ` +
        `${fetchTimeMs}, ${fixed(totalMb / (fetchTimeMs / 1000), 4)}, ${fixed(messagesRead / (fetchTimeMs / 1000), 4)}`,
    );
  }
  return 0;
}
