import { readFile } from 'node:fs/promises';
import type { Admin } from '@platformatic/kafka';
import { bootstrapServers, FAILURE_EXIT_CODE, parseFlags, requiredFlag, usageExit } from './args.js';
import { adminClient, commandConfigSecurity, describeFailure, ToolError } from './client.js';
import { type ClientSecurity, COMMAND_CONFIG_HELP } from './client-security.js';

const DELETE_RECORDS_USAGE = `usage: samsa delete-records --bootstrap-server HOST:PORT --offset-json-file FILE

Deletes every record before the given offset of each partition (as Kafka's kafka-delete-records.sh). FILE holds
{"partitions": [{"topic": "orders", "partition": 0, "offset": 5}], "version": 1}; offset -1 means the high
watermark, that is every record.

${COMMAND_CONFIG_HELP}`;

const FLAGS = { 'bootstrap-server': 'value', 'command-config': 'value', 'offset-json-file': 'value' } as const;

/** The offset-json-file format version Kafka's tool reads. */
const OFFSET_JSON_VERSION = 1;

interface RecordsToDelete {
  topic: string;
  partition: number;
  offset: bigint;
}

/** Kafka's parseOffsetJsonStringWithoutDedup, then its duplicate check. */
export function parseOffsetJson(text: string): RecordsToDelete[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ToolError(`the offset json file is not JSON: ${(e as Error).message}`);
  }
  const doc = json as { version?: unknown; partitions?: unknown };
  if (doc.version !== undefined && doc.version !== OFFSET_JSON_VERSION) {
    throw new ToolError(`Not supported version field value ${String(doc.version)}`);
  }
  if (!Array.isArray(doc.partitions)) throw new ToolError('the offset json file has no partitions array');
  const out = doc.partitions.map((entry: unknown) => {
    const e = entry as { topic?: unknown; partition?: unknown; offset?: unknown };
    if (typeof e.topic !== 'string' || !Number.isInteger(e.partition) || !Number.isInteger(e.offset)) {
      throw new ToolError(`each partition needs a topic, a partition and an offset, not ${JSON.stringify(entry)}`);
    }
    return { topic: e.topic, partition: e.partition as number, offset: BigInt(e.offset as number) };
  });
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const r of out) {
    const tp = `${r.topic}-${r.partition}`;
    if (seen.has(tp)) duplicates.add(tp);
    seen.add(tp);
  }
  if (duplicates.size > 0) {
    throw new ToolError(`Offset json file contains duplicate topic partitions: ${[...duplicates].join(',')}`);
  }
  return out;
}

/** The Kafka error name (and the broker's message) of a failed partition, as the client reports it. */
function errorText(error: unknown): string {
  const find = (e: unknown, depth: number): string | undefined => {
    const ce = e as { apiId?: string; serverErrorMessage?: string | null; errors?: unknown[]; message?: string };
    if (ce?.apiId) return ce.serverErrorMessage ? `${ce.apiId}: ${ce.serverErrorMessage}` : ce.apiId;
    for (const inner of depth < 5 ? (ce?.errors ?? []) : []) {
      const found = find(inner, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  return find(error, 0) ?? (error as Error).message;
}

/** What Kafka answers for a partition no broker hosts. */
const UNKNOWN_PARTITION = 'UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition.';

/** The partition counts of the topics named, looked up without ever naming a missing topic (that could create it). */
async function partitionCounts(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const existing = new Set(await admin.listTopics({ includeInternals: true }));
  const names = [...new Set(topics)].filter((t) => existing.has(t));
  const counts = new Map<string, number>();
  if (names.length === 0) return counts;
  const metadata = await admin.metadata({ topics: names, forceUpdate: true });
  for (const [name, topic] of metadata.topics) counts.set(name, topic.partitionsCount);
  return counts;
}

/**
 * One request per partition, as Kafka's tool reports one result per partition: a partition that fails (an
 * offset beyond the high watermark) does not hide the others' low watermarks. Partitions that do not exist are
 * answered here: the client cannot route a request for them.
 */
async function deleteRecords(admin: Admin, records: RecordsToDelete[]): Promise<string[]> {
  const counts = await partitionCounts(
    admin,
    records.map((r) => r.topic),
  );
  const results = await Promise.allSettled(
    records.map(async (r) => {
      if (r.partition >= (counts.get(r.topic) ?? 0)) throw new ToolError(UNKNOWN_PARTITION);
      return admin.deleteRecords({
        topics: [{ name: r.topic, partitions: [{ partition: r.partition, offset: r.offset }] }],
      });
    }),
  );
  return results.map((result, i) => {
    const tp = `${records[i]!.topic}-${records[i]!.partition}`;
    if (result.status === 'rejected') return `partition: ${tp}\terror: ${errorText(result.reason)}`;
    const lowWatermark = result.value[0]?.partitions[0]?.lowWatermark;
    return `partition: ${tp}\tlow_watermark: ${lowWatermark}`;
  });
}

/** `samsa delete-records`: Kafka's kafka-delete-records.sh. Returns the exit code. */
export async function runDeleteRecords(argv: string[]): Promise<number> {
  let bootstrap: string[];
  let file: string;
  let security: ClientSecurity;
  try {
    const flags = parseFlags(argv, FLAGS);
    bootstrap = bootstrapServers(flags);
    file = requiredFlag(flags, 'offset-json-file');
    security = await commandConfigSecurity(flags);
  } catch (e) {
    return usageExit('delete-records', DELETE_RECORDS_USAGE, e);
  }
  let records: RecordsToDelete[];
  try {
    records = parseOffsetJson(await readFile(file, 'utf8'));
  } catch (e) {
    // As Kafka's AdminCommandFailedException: a run-time failure, not a usage error.
    console.error(
      e instanceof ToolError
        ? `samsa delete-records: ${e.message}`
        : `samsa delete-records: cannot read ${file}: ${(e as Error).message}`,
    );
    return FAILURE_EXIT_CODE;
  }
  const admin = await adminClient(bootstrap, security);
  try {
    console.log('Executing records delete operation');
    const lines = await deleteRecords(admin, records);
    console.log('Records delete operation completed:');
    if (lines.length > 0) console.log(lines.join('\n'));
    return 0;
  } catch (e) {
    console.error(describeFailure('delete-records', bootstrap, e));
    return FAILURE_EXIT_CODE;
  } finally {
    await admin.close().catch(() => {});
  }
}
