import { DecodeError } from '../primitives/decode-error.js';
import type { RecordBatch } from './record-batch.js';
import { buildRecordBatch } from './record-batch-builder.js';

/** Control record types of transaction markers. */
export enum ControlType {
  Abort = 0,
  Commit = 1,
}

/** Version of the control record key and of the transaction marker value. */
const CONTROL_RECORD_VERSION = 0;

export interface TransactionMarker {
  type: ControlType;
  coordinatorEpoch: number;
}

/**
 * A control batch holding one COMMIT or ABORT marker, written to each partition of a transaction by its
 * coordinator. Key: version (int16) and type (int16); value: version (int16) and coordinator epoch (int32).
 */
export function buildTransactionMarkerBatch(params: {
  producerId: bigint;
  producerEpoch: number;
  coordinatorEpoch: number;
  type: ControlType;
  timestamp: bigint;
  partitionLeaderEpoch?: number;
}): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(CONTROL_RECORD_VERSION, 0);
  key.writeInt16BE(params.type, 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(CONTROL_RECORD_VERSION, 0);
  value.writeInt32BE(params.coordinatorEpoch, 2);
  return buildRecordBatch([{ key, value, timestamp: params.timestamp }], {
    producerId: params.producerId,
    producerEpoch: params.producerEpoch,
    isTransactional: true,
    isControl: true,
    partitionLeaderEpoch: params.partitionLeaderEpoch ?? -1,
  });
}

/** The marker of a control batch. */
export function readTransactionMarker(batch: RecordBatch): TransactionMarker {
  if (!batch.isControl) throw new DecodeError('not a control batch', 0);
  const [record] = batch.records();
  if (!record?.key || record.key.length < 4) throw new DecodeError('control record without a key', 0);
  const type = record.key.readInt16BE(2);
  if (type !== ControlType.Abort && type !== ControlType.Commit) throw new DecodeError(`control type ${type}`, 0);
  if (!record.value || record.value.length < 6) throw new DecodeError('transaction marker without a value', 0);
  return { type, coordinatorEpoch: record.value.readInt32BE(2) };
}
