import { readFile } from 'node:fs/promises';
import { ErrorCode, errorInfo } from '../../protocol/errors.js';
import { electLeadersApi } from '../../protocol/generated/apis/elect-leaders.js';
import {
  bootstrapServers,
  FAILURE_EXIT_CODE,
  integerFlag,
  type ParsedFlags,
  parseFlags,
  UsageError,
  usageExit,
} from './args.js';
import { openController } from './broker-request.js';
import { adminClient, describeFailure, ToolError } from './client.js';
import { type ClientSecurity, COMMAND_CONFIG_HELP, clientSecurity, readClientProperties } from './client-security.js';

const LEADER_ELECTION_USAGE = `usage: samsa leader-election --bootstrap-server HOST:PORT --election-type PREFERRED|UNCLEAN
         (--all-topic-partitions | --topic TOPIC --partition N | --path-to-json-file FILE)

Elects partition leaders (as Kafka's kafka-leader-election.sh): PREFERRED gives each partition back to its first
replica when it is live and in the ISR; UNCLEAN gives a partition without a leader any live replica (records may be
lost). FILE holds {"partitions": [{"topic": "orders", "partition": 0}]}.

  --admin.config FILE      as --command-config
${COMMAND_CONFIG_HELP}`;

const FLAGS = {
  'bootstrap-server': 'value',
  'admin.config': 'value',
  'command-config': 'value',
  'election-type': 'value',
  topic: 'value',
  partition: 'value',
  'all-topic-partitions': 'switch',
  'path-to-json-file': 'value',
} as const;

/** ElectLeaders v1: the first version with an election type (v2 only adds flexible fields). */
const ELECT_LEADERS_VERSION = 1;
/** How long the brokers may take over the election (Kafka's tool's default admin timeout). */
const ELECTION_TIMEOUT_MS = 30_000;
const ELECTION_TYPES: Record<string, number> = { PREFERRED: 0, UNCLEAN: 1 };

interface TopicPartition {
  topic: string;
  partition: number;
}

/** Kafka's parsing of --path-to-json-file, with its duplicate check. */
export function parseElectionJson(text: string): TopicPartition[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ToolError(`the json file is not JSON: ${(e as Error).message}`);
  }
  const partitions = (json as { partitions?: unknown }).partitions;
  if (!Array.isArray(partitions)) throw new ToolError('Replica election data is missing "partitions" field');
  const out = partitions.map((entry: unknown) => {
    const e = entry as { topic?: unknown; partition?: unknown };
    if (typeof e.topic !== 'string' || !Number.isInteger(e.partition)) {
      throw new ToolError(`each entry needs a topic and a partition, not ${JSON.stringify(entry)}`);
    }
    return { topic: e.topic, partition: e.partition as number };
  });
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const tp of out) {
    const name = `${tp.topic}-${tp.partition}`;
    if (seen.has(name)) duplicates.add(name);
    seen.add(name);
  }
  if (duplicates.size > 0) {
    throw new ToolError(`Replica election data contains duplicate partitions: ${[...duplicates].join(',')}`);
  }
  return out;
}

interface Parsed {
  bootstrap: string[];
  security: ClientSecurity;
  electionType: string;
  /** null: every partition (--all-topic-partitions). */
  partitions: TopicPartition[] | null;
}

async function parse(flags: ParsedFlags): Promise<Parsed> {
  const bootstrap = bootstrapServers(flags);
  const type = flags.values.get('election-type')?.toUpperCase();
  if (!type) throw new UsageError('--election-type is required');
  if (ELECTION_TYPES[type] === undefined)
    throw new UsageError(`--election-type must be PREFERRED or UNCLEAN, not '${type}'`);
  const all = flags.switches.has('all-topic-partitions');
  const topic = flags.values.get('topic');
  const file = flags.values.get('path-to-json-file');
  if ([all, topic !== undefined, file !== undefined].filter(Boolean).length !== 1) {
    throw new UsageError('one of --all-topic-partitions, --topic or --path-to-json-file is required');
  }
  const partition = integerFlag(flags, 'partition', 0);
  if (topic !== undefined && partition === undefined) throw new UsageError('--partition is required with --topic');
  if (topic === undefined && partition !== undefined) throw new UsageError('--partition is only allowed with --topic');
  const configFile = flags.values.get('admin.config') ?? flags.values.get('command-config');
  const security = await clientSecurity(await readClientProperties(configFile, 'admin.config'));
  let partitions: TopicPartition[] | null = null;
  if (topic !== undefined) partitions = [{ topic, partition: partition! }];
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new ToolError(`cannot read ${file}: ${(e as Error).message}`);
    }
    partitions = parseElectionJson(text);
  }
  return { bootstrap, security, electionType: type, partitions };
}

/** `samsa leader-election`: Kafka's kafka-leader-election.sh. Returns the exit code. */
export async function runLeaderElection(argv: string[]): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = await parse(parseFlags(argv, FLAGS));
  } catch (e) {
    if (e instanceof ToolError) {
      console.error(`samsa leader-election: ${e.message}`);
      return FAILURE_EXIT_CODE;
    }
    return usageExit('leader-election', LEADER_ELECTION_USAGE, e);
  }
  const { bootstrap, security, electionType, partitions } = parsed;
  const admin = await adminClient(bootstrap, security);
  try {
    const byTopic = new Map<string, number[]>();
    for (const tp of partitions ?? []) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
    // Sent to the controller, as Kafka's admin client does (any Samsa broker would do: see the handler).
    const connection = await openController(admin, bootstrap, security);
    const response = await connection
      .request(electLeadersApi, ELECT_LEADERS_VERSION, {
        electionType: ELECTION_TYPES[electionType]!,
        topicPartitions: partitions === null ? null : [...byTopic].map(([topic, ps]) => ({ topic, partitions: ps })),
        timeoutMs: ELECTION_TIMEOUT_MS,
      })
      .finally(() => connection.close());
    if (response.errorCode !== ErrorCode.NONE) {
      throw new ToolError(`${errorInfo(response.errorCode)?.name ?? response.errorCode}`);
    }
    const succeeded: string[] = [];
    const noop: string[] = [];
    const failed: string[] = [];
    for (const t of response.replicaElectionResults) {
      for (const p of t.partitionResult) {
        const name = `${t.topic}-${p.partitionId}`;
        if (p.errorCode === ErrorCode.NONE) succeeded.push(name);
        else if (p.errorCode === ErrorCode.ELECTION_NOT_NEEDED) noop.push(name);
        else {
          const error = errorInfo(p.errorCode)?.name ?? `error ${p.errorCode}`;
          failed.push(`${name}: ${p.errorMessage ? `${error}: ${p.errorMessage}` : error}`);
        }
      }
    }
    if (succeeded.length > 0) {
      console.log(`Successfully completed leader election (${electionType}) for partitions ${succeeded.join(', ')}`);
    }
    if (noop.length > 0) console.log(`Valid replica already elected for partitions ${noop.join(', ')}`);
    if (failed.length > 0) {
      for (const f of failed) console.log(`Error completing leader election (${electionType}) for partition: ${f}`);
      console.error(`samsa leader-election: ${failed.length} replica(s) could not be elected`);
      return FAILURE_EXIT_CODE;
    }
    return 0;
  } catch (e) {
    console.error(describeFailure('leader-election', bootstrap, e));
    return FAILURE_EXIT_CODE;
  } finally {
    await admin.close().catch(() => {});
  }
}
