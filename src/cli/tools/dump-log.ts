import { type FileHandle, open, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { readOffsetsRecord } from '../../coordinator/group/offsets-records.js';
import {
  readTransactionLogRecord,
  TRANSACTION_STATE_NAMES,
  type TransactionState,
} from '../../coordinator/transaction/transaction-log-records.js';
import {
  BATCH_LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  RECORD_BATCH_OVERHEAD,
} from '../../protocol/records/batch-header.js';
import { CompressionType } from '../../protocol/records/compression/index.js';
import { ControlType } from '../../protocol/records/control-record.js';
import type { Record as BatchRecord } from '../../protocol/records/record.js';
import { RecordBatch } from '../../protocol/records/record-batch.js';
import { CorruptIndexError, OffsetIndex } from '../../storage/offset-index.js';
import { decodeSnapshot } from '../../storage/producer-state.js';
import { TimeIndex } from '../../storage/time-index.js';
import { FAILURE_EXIT_CODE, integerFlag, type ParsedFlags, parseFlags, requiredFlag, UsageError } from './args.js';
import { kafkaUsageExit } from './perf-args.js';

const DUMP_LOG_USAGE = `usage: samsa dump-log --files FILE1,FILE2,... [options]

Prints the contents of log segment files (as Kafka's kafka-dump-log.sh): .log segments batch by batch, .index
and .timeindex entries checked against their segment, .snapshot producer state and .txnindex aborted
transactions. Reads Kafka's files as well as Samsa's (the format is the same).
  --print-data-log             print each record, with its key and value (implies --deep-iteration)
  --deep-iteration             print each record's metadata
  --skip-record-metadata       with --print-data-log: only keys and values
  --verify-index-only          check index entries against the segment without printing them
  --index-sanity-check         only the check a broker does on start (entries in order, size a multiple of one)
  --offsets-decoder            decode records as __consumer_offsets records
  --transaction-log-decoder    decode records as __transaction_state records
  --key-decoder-class, --value-decoder-class   only Kafka's string decoders are available
  --max-message-size BYTES     largest batch read at an index entry (default 5242880)
  --max-bytes BYTES            read at most this many bytes of each .log file`;

const FLAGS = {
  files: 'value',
  'print-data-log': 'switch',
  'deep-iteration': 'switch',
  'skip-record-metadata': 'switch',
  'verify-index-only': 'switch',
  'index-sanity-check': 'switch',
  'offsets-decoder': 'switch',
  'transaction-log-decoder': 'switch',
  'cluster-metadata-decoder': 'switch',
  'remote-log-metadata-decoder': 'switch',
  'key-decoder-class': 'optional',
  'value-decoder-class': 'optional',
  'max-message-size': 'value',
  'max-bytes': 'value',
} as const;

/** Kafka's defaults for --max-message-size and --max-bytes. */
const DEFAULT_MAX_MESSAGE_SIZE = 5 * 1024 * 1024;
const DEFAULT_MAX_BYTES = 0x7fffffff;
const INT32_MAX = 0x7fffffff;
/** Printed before each record of a batch (Kafka's RecordIndent). */
const RECORD_INDENT = '|';

/** The decoders Kafka's tool knows by class name that print bytes as UTF-8 text, which is all this tool offers. */
const STRING_DECODERS = new Set(['', 'org.apache.kafka.tools.api.StringDecoder', 'kafka.serializer.StringDecoder']);

const CODEC_NAMES: Readonly<Record<number, string>> = {
  [CompressionType.None]: 'none',
  [CompressionType.Gzip]: 'gzip',
  [CompressionType.Snappy]: 'snappy',
  [CompressionType.Lz4]: 'lz4',
  [CompressionType.Zstd]: 'zstd',
};

/** How a record's key and value are printed; undefined leaves that part out. */
type MessageParser = (record: BatchRecord) => { key?: string; payload?: string };

interface DumpCommand {
  files: string[];
  printDataLog: boolean;
  deepIteration: boolean;
  skipRecordMetadata: boolean;
  verifyOnly: boolean;
  indexSanityOnly: boolean;
  parser: MessageParser;
  maxMessageSize: number;
  maxBytes: number;
}

/** Problems found across all files, printed to standard error at the end as Kafka's tool does. */
interface Findings {
  indexMismatches: Map<string, [bigint, bigint][]>;
  timeMismatches: Map<string, [bigint, bigint][]>;
  timeOutOfOrder: Map<string, [bigint, bigint][]>;
  timeOffsetsNotFound: Map<string, [bigint, bigint][]>;
  nonConsecutive: Map<string, [bigint, bigint][]>;
}

function note(map: Map<string, [bigint, bigint][]>, file: string, pair: [bigint, bigint]): void {
  const list = map.get(file) ?? [];
  list.push(pair);
  map.set(file, list);
}

const stringParser: MessageParser = (r) => ({
  ...(r.key !== null && { key: r.key.toString('utf8') }),
  ...(r.value !== null && { payload: r.value.toString('utf8') }),
});

/** JSON as Kafka's generated JSON converters write it: int64 as numbers, bytes as base64. */
function toJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = this[key];
    if (Buffer.isBuffer(raw)) return raw.toString('base64');
    if (typeof v === 'bigint') return Number(v);
    if (key === 'unknownTaggedFields') return undefined;
    return v;
  });
}

/** __consumer_offsets records as Kafka's OffsetsMessageParser prints them: {"type":..,"data":..} and {"version":..,"data":..}. */
const offsetsParser: MessageParser = (r) => {
  if (r.key === null)
    return {
      key: `Error at offset ${r.offset}, skipping. Failed to decode message at offset ${r.offset} using offset topic decoder (message had a missing key)`,
    };
  try {
    const keyVersion = r.key.readInt16BE(0);
    const decoded = readOffsetsRecord(r.key, r.value);
    if (decoded === null) return { key: `Unknown record type ${keyVersion} at offset ${r.offset}, skipping.` };
    const valueVersion = r.value === null ? -1 : r.value.readInt16BE(0);
    let keyData: unknown;
    let valueData: unknown;
    switch (decoded.type) {
      case 'offset': {
        keyData = decoded.key;
        const v = decoded.value;
        // Kafka's converter writes only the fields of the value's version.
        valueData = v && {
          offset: v.offset,
          ...(valueVersion >= 3 && { leaderEpoch: v.leaderEpoch }),
          metadata: v.metadata,
          commitTimestamp: v.commitTimestamp,
          ...(valueVersion === 1 && { expireTimestamp: v.expireTimestamp }),
        };
        break;
      }
      case 'group':
        keyData = { group: decoded.group };
        valueData = decoded.value;
        break;
      default:
        keyData =
          'memberId' in decoded ? { groupId: decoded.group, memberId: decoded.memberId } : { groupId: decoded.group };
        valueData = decoded.value;
    }
    return {
      key: toJson({ type: String(keyVersion), data: keyData }),
      payload: valueData ? toJson({ version: String(valueVersion), data: valueData }) : '<DELETE>',
    };
  } catch (e) {
    return { key: `Error at offset ${r.offset}, skipping. ${(e as Error).message}` };
  }
};

/** __transaction_state records as Kafka's TransactionLog.formatRecordKeyAndValue prints them. */
const transactionLogParser: MessageParser = (r) => {
  if (r.key === null) return { key: `Error at offset ${r.offset}, skipping. missing key` };
  try {
    const decoded = readTransactionLogRecord(r.key, r.value);
    if (decoded === null) return { key: `Unknown record type at offset ${r.offset}, skipping.` };
    const key = `transaction_metadata::transactionalId=${decoded.transactionalId}`;
    const v = decoded.value;
    if (v === null) return { key, payload: '<DELETE>' };
    const partitions = (v.transactionPartitions ?? []).flatMap((t) => t.partitionIds.map((p) => `${t.topic}-${p}`));
    const state = TRANSACTION_STATE_NAMES[v.transactionStatus as TransactionState] ?? String(v.transactionStatus);
    return {
      key,
      payload:
        `producerId:${v.producerId},producerEpoch:${v.producerEpoch},state=${state},` +
        `partitions=[${partitions.join(',')}],txnLastUpdateTimestamp=${v.transactionLastUpdateTimestampMs},` +
        `txnTimeoutMs=${v.transactionTimeoutMs}`,
    };
  } catch (e) {
    return { key: `Error at offset ${r.offset}, skipping. ${(e as Error).message}` };
  }
};

function parseCommand(flags: ParsedFlags): DumpCommand {
  const files = requiredFlag(flags, 'files')
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
  for (const name of ['cluster-metadata-decoder', 'remote-log-metadata-decoder']) {
    if (flags.switches.has(name)) throw new UsageError(`--${name} is not available: Samsa has no such log`);
  }
  for (const name of ['key-decoder-class', 'value-decoder-class']) {
    const value = flags.values.get(name);
    if (value !== undefined && !STRING_DECODERS.has(value))
      throw new UsageError(`--${name} ${value} is not available: only org.apache.kafka.tools.api.StringDecoder is`);
  }
  const offsets = flags.switches.has('offsets-decoder');
  const transactions = flags.switches.has('transaction-log-decoder');
  const printDataLog =
    flags.switches.has('print-data-log') ||
    offsets ||
    transactions ||
    flags.values.has('key-decoder-class') ||
    flags.values.has('value-decoder-class');
  return {
    files,
    printDataLog,
    deepIteration: printDataLog || flags.switches.has('deep-iteration'),
    skipRecordMetadata: flags.switches.has('skip-record-metadata'),
    verifyOnly: flags.switches.has('verify-index-only'),
    indexSanityOnly: flags.switches.has('index-sanity-check'),
    parser: offsets ? offsetsParser : transactions ? transactionLogParser : stringParser,
    maxMessageSize: integerFlag(flags, 'max-message-size', 1) ?? DEFAULT_MAX_MESSAGE_SIZE,
    maxBytes: integerFlag(flags, 'max-bytes', 0) ?? DEFAULT_MAX_BYTES,
  };
}

/** Bytes of a segment read at a time: a segment (1 GiB by default) is never read whole. */
const READ_WINDOW_BYTES = 1024 * 1024;
/** Lines gathered before they are written out. */
const OUTPUT_LINES = 10_000;

/** A segment file read batch by batch through a window of its bytes. */
class SegmentReader {
  #window = Buffer.alloc(0);
  #windowStart = 0;

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  static async open(path: string): Promise<SegmentReader> {
    const handle = await open(path, 'r');
    try {
      return new SegmentReader(handle, (await handle.stat()).size);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  close(): Promise<void> {
    return this.handle.close();
  }

  /** The whole v2 batch at `position`, or null when the bytes there, before `limit`, hold none (the end, or damage). */
  async batchAt(position: number, limit = this.size): Promise<RecordBatch | null> {
    const end = Math.min(limit, this.size);
    const head = await this.#bytes(position, RECORD_BATCH_OVERHEAD, end);
    if (head === null) return null;
    const size = LOG_OVERHEAD + head.readInt32BE(BATCH_LENGTH_OFFSET);
    if (size < RECORD_BATCH_OVERHEAD || head[MAGIC_OFFSET] !== 2) return null;
    const bytes = await this.#bytes(position, size, end);
    return bytes && new RecordBatch(bytes);
  }

  /** `length` bytes at `position`, from the window or a fresh one starting there (earlier batches keep theirs). */
  async #bytes(position: number, length: number, end: number): Promise<Buffer | null> {
    if (position < 0 || position + length > end) return null;
    const offset = position - this.#windowStart;
    if (offset < 0 || offset + length > this.#window.length) {
      const window = Buffer.allocUnsafe(Math.min(Math.max(length, READ_WINDOW_BYTES), this.size - position));
      const { bytesRead } = await this.handle.read(window, 0, window.length, position);
      this.#window = window.subarray(0, bytesRead);
      this.#windowStart = position;
      if (length > bytesRead) return null;
      return this.#window.subarray(0, length);
    }
    return this.#window.subarray(offset, offset + length);
  }
}

/** Output lines, written out in chunks so that a large segment's dump is not held in memory. */
class Output {
  readonly #lines: string[] = [];

  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length >= OUTPUT_LINES) this.flush();
  }

  flush(): void {
    if (this.#lines.length === 0) return;
    process.stdout.write(`${this.#lines.join('\n')}\n`);
    this.#lines.length = 0;
  }
}

/** Sequences wrap at int32 max (Kafka's DefaultRecordBatch.incrementSequence). */
function incrementSequence(base: number, delta: number): number {
  return base > INT32_MAX - delta ? delta - (INT32_MAX - base) - 1 : base + delta;
}

function lastSequence(batch: RecordBatch): number {
  return batch.baseSequence < 0 ? -1 : incrementSequence(batch.baseSequence, batch.lastOffsetDelta);
}

/** The segment's base offset, from a file name such as 00000000000000000042.log. */
function fileBaseOffset(file: string): bigint {
  const stem = basename(file).split('.')[0] ?? '';
  if (!/^\d+$/.test(stem)) throw new UsageError(`${file}: the file name does not start with a base offset`);
  return BigInt(stem);
}

function siblingFile(file: string, suffix: string): string {
  return join(dirname(file), `${basename(file).split('.')[0]}${suffix}`);
}

function batchLine(batch: RecordBatch, position: number): string {
  const deleteHorizon = batch.hasDeleteHorizon ? `OptionalLong[${batch.baseTimestamp}]` : 'OptionalLong.empty';
  return (
    `baseOffset: ${batch.baseOffset} lastOffset: ${batch.lastOffset} count: ${batch.recordCount} ` +
    `baseSequence: ${batch.baseSequence} lastSequence: ${lastSequence(batch)} producerId: ${batch.producerId} ` +
    `producerEpoch: ${batch.producerEpoch} partitionLeaderEpoch: ${batch.partitionLeaderEpoch} ` +
    `isTransactional: ${batch.isTransactional} isControl: ${batch.isControl} deleteHorizonMs: ${deleteHorizon} ` +
    `position: ${position} ${batch.timestampType}: ${batch.maxTimestamp} size: ${batch.sizeInBytes} ` +
    `magic: ${batch.magic} compresscodec: ${CODEC_NAMES[batch.compression] ?? batch.compression} crc: ${batch.crc} ` +
    `isvalid: ${batch.verifyCrc()}`
  );
}

function controlText(record: BatchRecord): string {
  const type = record.key && record.key.length >= 4 ? record.key.readInt16BE(2) : -1;
  if ((type === ControlType.Abort || type === ControlType.Commit) && record.value && record.value.length >= 6) {
    const name = type === ControlType.Commit ? 'COMMIT' : 'ABORT';
    return ` endTxnMarker: ${name} coordinatorEpoch: ${record.value.readInt32BE(2)}`;
  }
  return ` controlType: UNKNOWN(${type})`;
}

function recordLine(c: DumpCommand, batch: RecordBatch, record: BatchRecord): string {
  let line = '';
  let prefix = `${RECORD_INDENT} `;
  if (!c.skipRecordMetadata) {
    const sequence =
      batch.baseSequence < 0 ? -1 : incrementSequence(batch.baseSequence, Number(record.offset - batch.baseOffset));
    line +=
      `${prefix}offset: ${record.offset} ${batch.timestampType}: ${record.timestamp} ` +
      `keySize: ${record.key?.length ?? -1} valueSize: ${record.value?.length ?? -1}` +
      ` sequence: ${sequence} headerKeys: [${record.headers.map((h) => h.key).join(',')}]`;
    prefix = ' ';
    if (batch.isControl) line += controlText(record);
  }
  if (c.printDataLog && !batch.isControl) {
    const { key, payload } = c.parser(record);
    if (key !== undefined) {
      line += `${prefix}key: ${key}`;
      prefix = ' ';
    }
    if (payload !== undefined) line += ` payload: ${payload}`;
  }
  return line;
}

async function dumpLog(c: DumpCommand, file: string, out: Output, findings: Findings): Promise<void> {
  out.push(`Log starting offset: ${fileBaseOffset(file)}`);
  const log = await SegmentReader.open(file);
  try {
    await dumpBatches(c, file, log, out, findings);
  } finally {
    await log.close();
  }
}

async function dumpBatches(c: DumpCommand, file: string, log: SegmentReader, out: Output, findings: Findings) {
  const limit = Math.min(log.size, c.maxBytes);
  let position = 0;
  let lastOffset = -1n;
  for (let batch = await log.batchAt(0, limit); batch !== null; batch = await log.batchAt(position, limit)) {
    out.push(batchLine(batch, position));
    if (c.deepIteration) {
      for (const record of batch.records()) {
        if (lastOffset !== -1n && record.offset !== lastOffset + 1n)
          note(findings.nonConsecutive, resolve(file), [lastOffset, record.offset]);
        lastOffset = record.offset;
        out.push(recordLine(c, batch, record));
      }
    }
    position += batch.sizeInBytes;
  }
  const trailing = log.size - position;
  if (trailing > 0 && c.maxBytes === DEFAULT_MAX_BYTES)
    out.push(`Found ${trailing} invalid bytes at the end of ${basename(file)}`);
}

/** The raw entries of an index file: Kafka's tool prints what is on disk, stopping at preallocated zeros. */
function* indexEntries(data: Buffer, entryBytes: number): Generator<[number, number, number]> {
  for (let i = 0, at = 0; at + entryBytes <= data.length; i++, at += entryBytes) yield [i, at, entryBytes];
}

async function dumpIndex(c: DumpCommand, file: string, data: Buffer, out: Output, findings: Findings): Promise<void> {
  const base = fileBaseOffset(file);
  if (data.length < 8) {
    out.push(`${file} is empty.`);
    return;
  }
  if (c.indexSanityOnly) {
    OffsetIndex.fromBuffer(Number(base), data);
    out.push(`${file} passed sanity check.`);
    return;
  }
  const log = await SegmentReader.open(siblingFile(file, '.log'));
  try {
    await checkIndex(c, file, base, data, log, out, findings);
  } finally {
    await log.close();
  }
}

async function checkIndex(
  c: DumpCommand,
  file: string,
  base: bigint,
  data: Buffer,
  log: SegmentReader,
  out: Output,
  findings: Findings,
): Promise<void> {
  for (const [i, at] of indexEntries(data, 8)) {
    const offset = base + BigInt(data.readInt32BE(at));
    const position = data.readInt32BE(at + 4);
    // A sparse, preallocated file: a zero entry after the first is unused space.
    if (offset === base && i > 0) return;
    const batch = await log.batchAt(position, position + c.maxMessageSize);
    // Kafka's broker indexes a batch by its last offset, Samsa's by its base offset: either points at the batch
    // holding the offset. Anything else is a mismatch, reported with the last offset of the batch found there.
    if (batch === null || offset < batch.baseOffset || offset > batch.lastOffset)
      note(findings.indexMismatches, resolve(file), [offset, batch?.lastOffset ?? -1n]);
    if (!c.verifyOnly) out.push(`offset: ${offset} position: ${position}`);
  }
}

async function dumpTimeIndex(
  c: DumpCommand,
  file: string,
  data: Buffer,
  out: Output,
  findings: Findings,
): Promise<void> {
  const base = fileBaseOffset(file);
  if (c.indexSanityOnly) {
    TimeIndex.fromBuffer(Number(base), data);
    out.push(`${file} passed sanity check.`);
    return;
  }
  // The last offset and largest timestamp of each batch: what the entries are checked against.
  const batches: { lastOffset: bigint; maxTimestamp: bigint }[] = [];
  const log = await SegmentReader.open(siblingFile(file, '.log'));
  try {
    for (let at = 0, b = await log.batchAt(0); b !== null; at += b.sizeInBytes, b = await log.batchAt(at))
      batches.push({ lastOffset: b.lastOffset, maxTimestamp: b.maxTimestamp });
  } finally {
    await log.close();
  }
  let previous = -1n;
  for (const [i, at] of indexEntries(data, 12)) {
    const timestamp = data.readBigInt64BE(at);
    const offset = base + BigInt(data.readInt32BE(at + 8));
    if (offset === base && i > 0) return;
    const batch = batches.find((b) => b.lastOffset >= offset);
    const where = resolve(file);
    if (!batch) note(findings.timeOffsetsNotFound, where, [offset, -1n]);
    else if (batch.lastOffset !== offset) note(findings.timeOffsetsNotFound, where, [offset, batch.lastOffset]);
    else {
      if (batch.maxTimestamp !== timestamp) note(findings.timeMismatches, where, [timestamp, batch.maxTimestamp]);
      if (previous >= timestamp) note(findings.timeOutOfOrder, where, [timestamp, previous]);
    }
    if (!c.verifyOnly) out.push(`timestamp: ${timestamp} offset: ${offset}`);
    previous = timestamp;
  }
}

function dumpProducerSnapshot(file: string, data: Buffer, out: Output, errors: string[]): void {
  const entries = decodeSnapshot(data);
  if (entries === null) {
    errors.push(`Snapshot failed CRC validation or is not a producer snapshot: ${file}`);
    return;
  }
  for (const e of entries) {
    const txnFirst = e.currentTxnFirstOffset >= 0 ? `OptionalLong[${e.currentTxnFirstOffset}]` : 'OptionalLong.empty';
    let line =
      `producerId: ${e.producerId} producerEpoch: ${e.producerEpoch} coordinatorEpoch: ${e.coordinatorEpoch} ` +
      `currentTxnFirstOffset: ${txnFirst} lastTimestamp: ${e.lastTimestamp} `;
    const m = e.batches[0];
    if (m)
      line +=
        `firstSequence: ${m.firstSeq} lastSequence: ${m.lastSeq} lastOffset: ${m.lastOffset} ` +
        `offsetDelta: ${m.offsetDelta} timestamp: ${m.timestamp}`;
    out.push(line);
  }
}

/** Kafka's .txnindex: entries of version (int16), producer id, first, last and last stable offsets (int64). */
const TXN_INDEX_ENTRY_BYTES = 34;

function dumpTxnIndex(data: Buffer, out: Output): void {
  for (let at = 0; at + TXN_INDEX_ENTRY_BYTES <= data.length; at += TXN_INDEX_ENTRY_BYTES) {
    out.push(
      `version: ${data.readInt16BE(at)} producerId: ${data.readBigInt64BE(at + 2)} firstOffset: ${data.readBigInt64BE(at + 10)} ` +
        `lastOffset: ${data.readBigInt64BE(at + 18)} lastStableOffset: ${data.readBigInt64BE(at + 26)}`,
    );
  }
}

function printFindings(f: Findings, errors: string[]): void {
  for (const [file, list] of f.indexMismatches) {
    errors.push(`Mismatches in :${file}`);
    for (const [index, log] of list) errors.push(`  Index offset: ${index}, log offset: ${log}`);
  }
  for (const [file, list] of f.timeMismatches) {
    errors.push(`Found timestamp mismatch in :${file}`);
    for (const [index, log] of list) errors.push(`  Index timestamp: ${index}, log timestamp: ${log}`);
  }
  for (const [file, list] of f.timeOutOfOrder) {
    errors.push(`Found out of order timestamp in :${file}`);
    for (const [index, prev] of list) errors.push(`  Index timestamp: ${index}, Previously indexed timestamp: ${prev}`);
  }
  for (const list of f.timeOffsetsNotFound.values()) {
    errors.push('The following indexed offsets are not found in the log.');
    for (const [index, log] of list) errors.push(`Indexed offset: ${index}, found log offset: ${log}`);
  }
  for (const [file, list] of f.nonConsecutive) {
    errors.push(`Non-consecutive offsets in ${file}`);
    for (const [first, second] of list) errors.push(`  ${first} is followed by ${second}`);
  }
}

/** `samsa dump-log`: Kafka's kafka-dump-log.sh. Returns the exit code. */
export async function runDumpLog(argv: string[]): Promise<number> {
  let command: DumpCommand;
  try {
    command = parseCommand(parseFlags(argv, FLAGS));
  } catch (e) {
    return kafkaUsageExit('dump-log', DUMP_LOG_USAGE, e);
  }
  const findings: Findings = {
    indexMismatches: new Map(),
    timeMismatches: new Map(),
    timeOutOfOrder: new Map(),
    timeOffsetsNotFound: new Map(),
    nonConsecutive: new Map(),
  };
  const errors: string[] = [];
  let failed = false;
  for (const file of command.files) {
    const out = new Output();
    out.push(`Dumping ${file}`);
    const suffix = file.slice(file.lastIndexOf('.'));
    try {
      // Index, snapshot and transaction index files are small (10 MiB at most by default): read whole.
      const small = ['.index', '.timeindex', '.snapshot', '.txnindex'].includes(suffix) ? await readFile(file) : null;
      if (suffix === '.log') await dumpLog(command, file, out, findings);
      else if (small === null) errors.push(`Ignoring unknown file ${file}`);
      else if (suffix === '.index') await dumpIndex(command, file, small, out, findings);
      else if (suffix === '.timeindex') await dumpTimeIndex(command, file, small, out, findings);
      else if (suffix === '.snapshot') dumpProducerSnapshot(file, small, out, errors);
      else dumpTxnIndex(small, out);
    } catch (e) {
      // Kafka's tool stops at the first file it cannot read; so does this one, after printing what it read.
      failed = true;
      const message = e instanceof CorruptIndexError || e instanceof UsageError ? e.message : (e as Error).message;
      errors.push(`samsa dump-log: ${file}: ${message}`);
    }
    out.flush();
    if (failed) break;
  }
  printFindings(findings, errors);
  if (errors.length > 0) process.stderr.write(`${errors.join('\n')}\n`);
  return failed ? FAILURE_EXIT_CODE : 0;
}
