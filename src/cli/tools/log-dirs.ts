import type { Admin } from '@platformatic/kafka';
import { bootstrapServers, FAILURE_EXIT_CODE, type ParsedFlags, parseFlags, UsageError, usageExit } from './args.js';
import { adminClient, commandConfigSecurity, describeFailure, ToolError } from './client.js';
import { type ClientSecurity, COMMAND_CONFIG_HELP } from './client-security.js';

const LOG_DIRS_USAGE = `usage: samsa log-dirs --bootstrap-server HOST:PORT --describe [--topic-list T1,T2] [--broker-list 0,1]

Prints each broker's log directories and the size of every partition in them as JSON (as Kafka's
kafka-log-dirs.sh); --topic-list and --broker-list narrow it down.

${COMMAND_CONFIG_HELP}`;

const FLAGS = {
  'bootstrap-server': 'value',
  'command-config': 'value',
  describe: 'switch',
  'topic-list': 'value',
  'broker-list': 'value',
} as const;

/** The version field of the JSON Kafka's tool prints. */
const LOG_DIRS_JSON_VERSION = 1;

interface LogDirsCommand {
  topics: Set<string> | undefined;
  brokers: number[] | undefined;
}

function commaList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return items.length > 0 ? items : undefined;
}

function parseCommand(flags: ParsedFlags): LogDirsCommand {
  if (!flags.switches.has('describe')) throw new UsageError('--describe is required');
  const topics = commaList(flags.values.get('topic-list'));
  const brokers = commaList(flags.values.get('broker-list'))?.map((id) => {
    if (!/^\d+$/.test(id)) throw new UsageError(`--broker-list takes broker ids, not '${id}'`);
    return Number(id);
  });
  return { topics: topics && new Set(topics), brokers };
}

async function describe(admin: Admin, c: LogDirsCommand): Promise<string[]> {
  const cluster = [...(await admin.metadata({ topics: [] })).brokers.keys()].sort((a, b) => a - b);
  const brokers = c.brokers ?? cluster;
  const missing = brokers.filter((id) => !cluster.includes(id));
  if (missing.length > 0) {
    throw new ToolError(
      `ERROR: The given brokers do not exist from --broker-list: ${missing.join(',')}. Current existent brokers: ${cluster.join(',')}`,
    );
  }
  // A null topic list asks every broker for all of its partitions; Kafka's tool filters by --topic-list itself.
  const described = await admin.describeLogDirs({ topics: null as unknown as [] });
  const byBroker = new Map(described.map((d) => [d.broker, d]));
  const json = {
    version: LOG_DIRS_JSON_VERSION,
    brokers: brokers.map((broker) => ({
      broker,
      logDirs: (byBroker.get(broker)?.results ?? []).map((dir) => ({
        logDir: dir.logDir,
        error: null,
        partitions: dir.topics
          .filter((t) => c.topics?.has(t.name) ?? true)
          .flatMap((t) =>
            t.partitions.map((p) => ({
              partition: `${t.name}-${p.partitionIndex}`,
              size: Number(p.partitionSize),
              offsetLag: Number(p.offsetLag),
              isFuture: p.isFutureKey,
            })),
          ),
      })),
    })),
  };
  return [
    'Querying brokers for log directories information',
    `Received log directory information from brokers ${brokers.join(',')}`,
    JSON.stringify(json),
  ];
}

/** `samsa log-dirs`: Kafka's kafka-log-dirs.sh. Returns the exit code. */
export async function runLogDirs(argv: string[]): Promise<number> {
  let bootstrap: string[];
  let command: LogDirsCommand;
  let security: ClientSecurity;
  try {
    const flags = parseFlags(argv, FLAGS);
    bootstrap = bootstrapServers(flags);
    command = parseCommand(flags);
    security = await commandConfigSecurity(flags);
  } catch (e) {
    return usageExit('log-dirs', LOG_DIRS_USAGE, e);
  }
  const admin = await adminClient(bootstrap, security);
  try {
    console.log((await describe(admin, command)).join('\n'));
    return 0;
  } catch (e) {
    console.error(e instanceof ToolError ? e.message : describeFailure('log-dirs', bootstrap, e));
    return FAILURE_EXIT_CODE;
  } finally {
    await admin.close().catch(() => {});
  }
}
