import { BATCH_LENGTH_OFFSET, CURRENT_MAGIC, LOG_OVERHEAD } from '../../protocol/records/batch-header.js';
import { readLegacyRecords } from '../../protocol/records/legacy-message-set.js';
import { magicAt, RecordBatch } from '../../protocol/records/record-batch.js';
import { OffsetOutOfRangeError } from '../../storage/partition-log.js';
import type { ApiRoute } from '../api-route.js';
import { ApiError, intParam, ok } from '../api-route.js';
import {
  DEFAULT_SHOWN_BYTES,
  DISPLAY_FORMATS,
  type DisplayFormat,
  MAX_SHOWN_BYTES,
  type ShownBytes,
  showBytes,
} from '../record-format.js';

/** Records on a page unless the page asks for another count. */
export const DEFAULT_PAGE_RECORDS = 50;
/** The most records one page may ask for. */
export const MAX_PAGE_RECORDS = 500;
/** The most bytes of keys, values and headers one page shows: past it the page ends early. */
export const MAX_PAGE_SHOWN_BYTES = 4 * 1024 * 1024;
/** Bytes read from the log at a time. */
const READ_BYTES = 1024 * 1024;

export interface BrowsedRecord {
  offset: number;
  timestamp: number;
  timestampType: 'CreateTime' | 'LogAppendTime';
  key: ShownBytes;
  value: ShownBytes;
  headers: Array<{ key: string; value: ShownBytes }>;
}

interface RawRecord {
  offset: bigint;
  timestamp: bigint;
  timestampType: 'CreateTime' | 'LogAppendTime';
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<{ key: string; value: Buffer | null }>;
}

/**
 * The data records of a read from the log, in offset order: v2 batches and the legacy message sets (v0, v1) of
 * topics written by old clients. Control batches (transaction markers) are left out, as consumers never see them.
 */
function* recordsOf(buf: Buffer): Generator<RawRecord> {
  let at = 0;
  while (at + LOG_OVERHEAD <= buf.length) {
    const size = LOG_OVERHEAD + buf.readInt32BE(at + BATCH_LENGTH_OFFSET);
    if (at + size > buf.length) return;
    const bytes = buf.subarray(at, at + size);
    at += size;
    if (magicAt(bytes) < CURRENT_MAGIC) {
      for (const r of readLegacyRecords(bytes)) yield { ...r, headers: [] };
      continue;
    }
    const batch = new RecordBatch(bytes);
    if (batch.isControl) continue;
    const timestampType = batch.timestampType;
    for (const r of batch.records()) yield { ...r, timestampType };
  }
}

/**
 * The message browser: records of one partition from an offset, or from the first record at or after a
 * timestamp (as ListOffsets finds it), up to the high watermark, with keys, values and header values shown as
 * text, JSON or hex and cut at a size per field and per page. Reads the log in the process, as a consumer
 * reading uncommitted data would see it.
 */
export const browseMessagesRoute: ApiRoute = {
  method: 'GET',
  path: /^\/api\/topics\/([^/]+)\/partitions\/(\d+)\/records$/,
  changes: false,
  async handle(backend, { params, query }) {
    const topic = params[0]!;
    const partition = Number(params[1]);
    const log = backend.logs.getLog(topic, partition);
    if (!backend.topics.get(topic) || !log)
      throw new ApiError(404, 'UNKNOWN_TOPIC_OR_PARTITION', `No partition ${partition} of topic '${topic}' here`);
    const format = (query.get('format') ?? 'text') as DisplayFormat;
    if (!DISPLAY_FORMATS.includes(format))
      throw new ApiError(400, 'INVALID_REQUEST', `format must be one of ${DISPLAY_FORMATS.join(', ')}`);
    const limit = intParam(query.get('limit'), 'limit', DEFAULT_PAGE_RECORDS, 1, MAX_PAGE_RECORDS);
    const maxBytes = intParam(query.get('maxBytes'), 'maxBytes', DEFAULT_SHOWN_BYTES, 1, MAX_SHOWN_BYTES);
    let from: number;
    if (query.get('timestamp')) {
      const timestamp = intParam(query.get('timestamp'), 'timestamp', undefined, 0);
      from = (await log.offsetForTimestamp(timestamp))?.offset ?? log.highWatermark;
    } else {
      from = intParam(query.get('offset'), 'offset', log.logStartOffset, 0);
    }
    // As a consumer with auto.offset.reset=earliest, an offset below the log start begins at the log start.
    from = Math.max(from, log.logStartOffset);
    const records: BrowsedRecord[] = [];
    let next = from;
    let shownBytes = 0;
    let pageFull = false;
    while (!pageFull && records.length < limit && next < log.highWatermark) {
      let read: Awaited<ReturnType<typeof log.read>>;
      try {
        read = await log.read(next, READ_BYTES, true);
      } catch (e) {
        if (e instanceof OffsetOutOfRangeError)
          throw new ApiError(416, 'OFFSET_OUT_OF_RANGE', `${e.message}; the high watermark is ${log.highWatermark}`);
        throw e;
      }
      if (!read) break;
      let advanced = false;
      for (const r of recordsOf(read.records)) {
        const offset = Number(r.offset);
        if (offset < next) continue;
        if (records.length >= limit || shownBytes >= MAX_PAGE_SHOWN_BYTES) {
          pageFull = true;
          break;
        }
        const key = showBytes(r.key, format, maxBytes);
        const value = showBytes(r.value, format, maxBytes);
        const headers = r.headers.map((h) => ({ key: h.key, value: showBytes(h.value, format, maxBytes) }));
        shownBytes += [key, value, ...headers.map((h) => h.value)].reduce((n, s) => n + (s.shown?.length ?? 0), 0);
        records.push({
          offset,
          timestamp: Number(r.timestamp),
          timestampType: r.timestampType,
          key,
          value,
          headers,
        });
        next = offset + 1;
        advanced = true;
      }
      // A read of only control batches or of records below `next` (compacted away) moves on past them.
      if (!advanced && !pageFull) next = lastOffsetOf(read.records) + 1;
    }
    return ok({
      topic,
      partition,
      from,
      nextOffset: next,
      logStartOffset: log.logStartOffset,
      highWatermark: log.highWatermark,
      records,
    });
  },
};

/** The offset after the last whole batch or message of a read. */
function lastOffsetOf(buf: Buffer): number {
  let at = 0;
  let last = -1;
  while (at + LOG_OVERHEAD <= buf.length) {
    const size = LOG_OVERHEAD + buf.readInt32BE(at + BATCH_LENGTH_OFFSET);
    if (at + size > buf.length) break;
    const bytes = buf.subarray(at, at + size);
    last = magicAt(bytes) < CURRENT_MAGIC ? Number(bytes.readBigInt64BE(0)) : Number(new RecordBatch(bytes).lastOffset);
    at += size;
  }
  return last;
}
