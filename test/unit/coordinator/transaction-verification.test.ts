import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  defaultTransactionSettings,
  TransactionCoordinator,
} from '../../../src/coordinator/transaction/transaction-coordinator.js';
import { ErrorCode } from '../../../src/protocol/errors.js';
import { quietLogger } from './fakes.js';

/**
 * A transaction coordinator that leads no partition of `__transaction_state`: `stateLogError` is what the
 * partition's lookup answers (NOT_LEADER_OR_FOLLOWER: another broker leads it), `answer` what that broker's
 * verification gives; the questions asked are kept.
 */
function coordinatorElsewhere(stateLogError: number, answer: number) {
  const asked: unknown[][] = [];
  const coordinator = new TransactionCoordinator({
    settings: defaultTransactionSettings(),
    stateLog: () => ({ errorCode: stateLogError }),
    stateLogPartitionCount: () => 50,
    createStateTopic: async () => ErrorCode.NONE,
    partitionLog: () => null,
    verifyElsewhere: async (...question) => {
      asked.push(question);
      return answer;
    },
    syncWrites: false,
    coordinatorEpoch: () => 0,
    producerIds: { nextProducerId: async () => 0n },
    onMarkerWritten: () => {},
    logger: quietLogger(),
  });
  return { coordinator, asked };
}

test("a transactional batch whose coordinator is another broker: that broker's answer as Kafka's produce errors", async () => {
  const cases: Array<[number, number, string | null]> = [
    [ErrorCode.NONE, ErrorCode.NONE, null],
    [ErrorCode.TRANSACTION_ABORTABLE, ErrorCode.INVALID_TXN_STATE, 'Partition was not added to the transaction'],
    [ErrorCode.INVALID_TXN_STATE, ErrorCode.INVALID_TXN_STATE, 'Partition was not added to the transaction'],
    [ErrorCode.PRODUCER_FENCED, ErrorCode.INVALID_PRODUCER_EPOCH, null],
    [ErrorCode.INVALID_PRODUCER_ID_MAPPING, ErrorCode.INVALID_PRODUCER_ID_MAPPING, null],
    [ErrorCode.NETWORK_EXCEPTION, ErrorCode.NOT_ENOUGH_REPLICAS, 'NETWORK_EXCEPTION'],
    [ErrorCode.NOT_COORDINATOR, ErrorCode.NOT_ENOUGH_REPLICAS, 'NOT_COORDINATOR'],
    [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.NOT_ENOUGH_REPLICAS, 'COORDINATOR_LOAD_IN_PROGRESS'],
    [ErrorCode.CONCURRENT_TRANSACTIONS, ErrorCode.NOT_ENOUGH_REPLICAS, 'CONCURRENT_TRANSACTIONS'],
  ];
  for (const [answer, errorCode, message] of cases) {
    const { coordinator, asked } = coordinatorElsewhere(ErrorCode.NOT_LEADER_OR_FOLLOWER, answer);
    const check = coordinator.checkTransactionalWrite('tx', 7n, 3, 'orders', 2, false);
    assert.ok(check instanceof Promise, 'asked of the other broker');
    const result = await check;
    assert.equal(result.errorCode, errorCode, `answer ${answer}`);
    if (message === null) assert.equal(result.message, null);
    else assert.ok(result.message?.includes(message), result.message ?? '');
    assert.deepEqual(asked, [[coordinator.partitionFor('tx'), 'tx', 7n, 3, 'orders', 2]]);
  }
});

test('the first batch only is asked about: once the transaction is open in the partition, the marker will come', () => {
  const { coordinator, asked } = coordinatorElsewhere(ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.INVALID_TXN_STATE);
  assert.deepEqual(coordinator.checkTransactionalWrite('tx', 7n, 3, 'orders', 2, true), {
    errorCode: ErrorCode.NONE,
    message: null,
  });
  assert.deepEqual(asked, []);
});

test('no leader for the id partition of __transaction_state, or no such topic: a produce is retried, not failed', () => {
  const { coordinator, asked } = coordinatorElsewhere(ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.NONE);
  const check = coordinator.checkTransactionalWrite('tx', 7n, 3, 'orders', 2, false);
  assert.ok(!(check instanceof Promise));
  assert.equal(check.errorCode, ErrorCode.NOT_ENOUGH_REPLICAS);
  assert.equal(coordinator.offsetCommitError('tx', 7n, 3, 0), ErrorCode.COORDINATOR_NOT_AVAILABLE);
  // A transactional batch without a transactional id is refused outright.
  const anonymous = coordinator.checkTransactionalWrite(null, 7n, 3, 'orders', 2, false);
  assert.ok(!(anonymous instanceof Promise));
  assert.equal(anonymous.errorCode, ErrorCode.INVALID_TXN_STATE);
  assert.deepEqual(asked, []);
});

test("a TxnOffsetCommit whose transaction's coordinator is another broker: the group's partition is asked about", async () => {
  const cases: Array<[number, number]> = [
    [ErrorCode.NONE, ErrorCode.NONE],
    [ErrorCode.TRANSACTION_ABORTABLE, ErrorCode.INVALID_TXN_STATE],
    [ErrorCode.PRODUCER_FENCED, ErrorCode.PRODUCER_FENCED],
    [ErrorCode.NETWORK_EXCEPTION, ErrorCode.COORDINATOR_NOT_AVAILABLE],
    [ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE],
    [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS],
  ];
  for (const [answer, errorCode] of cases) {
    const { coordinator, asked } = coordinatorElsewhere(ErrorCode.NOT_LEADER_OR_FOLLOWER, answer);
    assert.equal(await coordinator.offsetCommitError('tx', 7n, 3, 12), errorCode, `answer ${answer}`);
    assert.deepEqual(asked, [[coordinator.partitionFor('tx'), 'tx', 7n, 3, '__consumer_offsets', 12]]);
  }
});
