/**
 * The records of `__transaction_state`, in Kafka's format: key and value each start with an int16 version;
 * the key is the transactional id, the value the transaction's metadata (null: the id expired).
 */
import {
  decodeTransactionLogKey,
  encodeTransactionLogKey,
} from '../../protocol/generated/internal/transaction-log-key.js';
import {
  decodeTransactionLogValue,
  encodeTransactionLogValue,
  type TransactionLogValue,
} from '../../protocol/generated/internal/transaction-log-value.js';
import { DecodeError, Reader, Writer } from '../../protocol/primitives/index.js';

const KEY_VERSION = 0;
/** Version 0 is what Kafka writes unless it needs the tagged fields of version 1. */
const VALUE_VERSION = 0;

/** Kafka's TransactionState ids, as stored in TransactionStatus. */
export const TransactionState = {
  Empty: 0,
  Ongoing: 1,
  PrepareCommit: 2,
  PrepareAbort: 3,
  CompleteCommit: 4,
  CompleteAbort: 5,
  Dead: 6,
  PrepareEpochFence: 7,
} as const;
export type TransactionState = (typeof TransactionState)[keyof typeof TransactionState];

/** The names DescribeTransactions and ListTransactions use. */
export const TRANSACTION_STATE_NAMES: Record<TransactionState, string> = {
  0: 'Empty',
  1: 'Ongoing',
  2: 'PrepareCommit',
  3: 'PrepareAbort',
  4: 'CompleteCommit',
  5: 'CompleteAbort',
  6: 'Dead',
  7: 'PrepareEpochFence',
};

export function transactionLogKey(transactionalId: string): Buffer {
  const w = new Writer(32);
  w.writeInt16(KEY_VERSION);
  encodeTransactionLogKey(w, KEY_VERSION, { transactionalId });
  return w.toBuffer();
}

export function transactionLogValue(value: TransactionLogValue): Buffer {
  const w = new Writer(64);
  w.writeInt16(VALUE_VERSION);
  encodeTransactionLogValue(w, VALUE_VERSION, value);
  return w.toBuffer();
}

/** One record of `__transaction_state`; null for a key version this broker does not know. */
export function readTransactionLogRecord(
  key: Buffer,
  value: Buffer | null,
): { transactionalId: string; value: TransactionLogValue | null } | null {
  const kr = new Reader(key);
  const keyVersion = kr.readInt16();
  if (keyVersion !== KEY_VERSION) return null;
  const { transactionalId } = decodeTransactionLogKey(kr, keyVersion);
  if (value === null) return { transactionalId, value: null };
  const vr = new Reader(value);
  const valueVersion = vr.readInt16();
  if (valueVersion < 0 || valueVersion > 1) throw new DecodeError(`transaction log value version ${valueVersion}`, 0);
  return { transactionalId, value: decodeTransactionLogValue(vr, valueVersion) };
}
