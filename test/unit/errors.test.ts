import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, errorInfo, isRetriable, KafkaError } from '../../src/protocol/errors.js';

test('codes and names are one-to-one and match Kafka for well-known errors', () => {
  const codes = Object.values(ErrorCode);
  assert.equal(new Set(codes).size, codes.length);
  assert.equal(ErrorCode.NONE, 0);
  assert.equal(ErrorCode.UNKNOWN_SERVER_ERROR, -1);
  assert.equal(ErrorCode.CORRUPT_MESSAGE, 2);
  assert.equal(ErrorCode.MESSAGE_TOO_LARGE, 10);
  assert.equal(ErrorCode.UNSUPPORTED_VERSION, 35);
  assert.equal(ErrorCode.INVALID_REQUEST, 42);
  assert.equal(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 45);
  assert.equal(ErrorCode.UNKNOWN_TOPIC_ID, 100);
});

test('retriable flags follow Kafka', () => {
  for (const name of [
    'NOT_LEADER_OR_FOLLOWER',
    'REQUEST_TIMED_OUT',
    'COORDINATOR_LOAD_IN_PROGRESS',
    'NOT_COORDINATOR',
  ] as const) {
    assert.equal(isRetriable(ErrorCode[name]), true, name);
  }
  for (const name of [
    'NONE',
    'UNKNOWN_SERVER_ERROR',
    'MESSAGE_TOO_LARGE',
    'INVALID_REQUEST',
    'TOPIC_ALREADY_EXISTS',
  ] as const) {
    assert.equal(isRetriable(ErrorCode[name]), false, name);
  }
});

test('errorInfo and KafkaError carry the table entry', () => {
  assert.deepEqual(errorInfo(3), { code: 3, name: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true });
  assert.equal(errorInfo(9999), undefined);
  const e = new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, 'bad name');
  assert.equal(e.code, 17);
  assert.equal(e.retriable, false);
  assert.match(e.message, /^INVALID_TOPIC_EXCEPTION: bad name$/);
  assert.ok(e instanceof Error);
});
