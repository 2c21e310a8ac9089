import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { createTopics, PYTHON } from './clients.js';
import { describeGroup } from './group-helpers.js';

const { Kafka, logLevel } = kafkajs;
const run = promisify(execFile);

/** A session timeout no other timer of the broker uses, so that only session timers are made to fire early. */
const SESSION_TIMEOUT_MS = 2345;
/**
 * Node arms a timer from the event loop's cached time, which lags the wall clock when the loop is busy: a timer
 * then fires before Date.now() reaches the deadline it was armed for. The broker's session timers are made to
 * fire this much early, as they do on a loaded machine.
 */
const EARLY_MS = 50;
/** How long the group may take to empty once its static member is gone: the session timeout and ample slack. */
const EMPTY_WAIT_MS = 30_000;

let broker: Broker;
let kafka: InstanceType<typeof Kafka>;
const realSetTimeout = globalThis.setTimeout;

before(async () => {
  globalThis.setTimeout = ((callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) =>
    realSetTimeout(callback, delay === SESSION_TIMEOUT_MS ? delay - EARLY_MS : delay, ...args)) as typeof setTimeout;
  broker = await startBroker({ groups: { minSessionTimeoutMs: 1000, initialRebalanceDelayMs: 0 } });
  kafka = new Kafka({ clientId: 'static-expiry-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
});

after(async () => {
  globalThis.setTimeout = realSetTimeout;
  await broker.stop();
});

test('a static member closed without leaving expires after its session timeout, and its group can be deleted', async () => {
  const topic = 'static-expiry';
  const groupId = 'g-static-expiry';
  await createTopics(kafka, [{ topic, numPartitions: 2 }]);
  // A static member (group.instance.id) sends no LeaveGroup when it closes: only its session timeout removes it.
  const script = `
import sys
from confluent_kafka import Consumer
assigned = []
c = Consumer({'bootstrap.servers': sys.argv[1], 'group.id': sys.argv[3], 'group.instance.id': 'instance-0',
              'session.timeout.ms': int(sys.argv[4]), 'auto.offset.reset': 'earliest'})
c.subscribe([sys.argv[2]], on_assign=lambda consumer, partitions: assigned.extend(partitions))
while not assigned:
    c.poll(0.2)
c.close()
print(len(assigned))
`;
  const { stdout } = await run(PYTHON, ['-c', script, broker.bootstrap, topic, groupId, String(SESSION_TIMEOUT_MS)], {
    timeout: 60_000,
  });
  assert.equal(stdout.trim(), '2');

  const deadline = Date.now() + EMPTY_WAIT_MS;
  let view = await describeGroup(broker.port, groupId);
  while (view.state !== 'Empty' && Date.now() < deadline) {
    await new Promise((r) => realSetTimeout(r, 100));
    view = await describeGroup(broker.port, groupId);
  }
  assert.equal(view.state, 'Empty', `members left: ${[...view.members.keys()].join(', ')}`);
  assert.equal(view.members.size, 0);

  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteGroups([groupId]);
  } finally {
    await admin.disconnect();
  }
});
