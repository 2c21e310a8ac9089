import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { type Broker, startBroker } from '../../src/broker/broker.js';
import { consumeWithKcat, createTopics, PYTHON } from './clients.js';
import { DroppingProxy } from './dropping-proxy.js';

const run = promisify(execFile);
const RECORDS = 200;
/** Every this-many-th Produce response is lost (and the connection cut). */
const DROP_EVERY = 5;

/** A broker reachable only through a proxy that loses Produce responses; Metadata points clients at the proxy. */
async function brokerBehindProxy(): Promise<{ broker: Broker; proxy: DroppingProxy; bootstrap: string }> {
  let brokerPort = 0;
  const proxy = new DroppingProxy(
    () => ({ host: '127.0.0.1', port: brokerPort }),
    (n) => n % DROP_EVERY === 0,
  );
  const proxyPort = await proxy.listen();
  const broker = await startBroker({ advertisedPort: proxyPort });
  brokerPort = broker.port;
  return { broker, proxy, bootstrap: `127.0.0.1:${proxyPort}` };
}

/** Responses were really lost, and yet the partition holds every record once, in the order sent. */
async function assertWrittenOnceInOrder(broker: Broker, proxy: DroppingProxy, topic: string): Promise<void> {
  assert.ok(proxy.dropped > 0, 'responses were lost');
  const stored = await consumeWithKcat(`127.0.0.1:${broker.port}`, topic, 0);
  assert.deepEqual(
    stored.map((r) => r.value),
    expectedValues(),
  );
}

function expectedValues(): string[] {
  return Array.from({ length: RECORDS }, (_, i) => `v${i}`);
}

test('KafkaJS idempotent producer: lost responses and cut connections write every record once, in order', async () => {
  const { broker, proxy, bootstrap } = await brokerBehindProxy();
  try {
    const kafka = new Kafka({
      brokers: [bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 20, initialRetryTime: 20 },
    });
    await createTopics(kafka, [{ topic: 'idem-kafkajs', numPartitions: 1 }]);
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { retries: 20, initialRetryTime: 20 },
    });
    await producer.connect();
    for (let i = 0; i < RECORDS; i += 4) {
      await producer.send({
        topic: 'idem-kafkajs',
        acks: -1,
        messages: expectedValues()
          .slice(i, i + 4)
          .map((value) => ({ value, partition: 0 })),
      });
    }
    await producer.disconnect();
    await assertWrittenOnceInOrder(broker, proxy, 'idem-kafkajs');
  } finally {
    await proxy.close();
    await broker.stop();
  }
});

test('confluent-kafka-python idempotent producer: lost responses and cut connections write every record once, in order', async () => {
  const { broker, proxy, bootstrap } = await brokerBehindProxy();
  try {
    const kafka = new Kafka({ brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING });
    await createTopics(kafka, [{ topic: 'idem-confluent', numPartitions: 1 }]);
    const script = join(import.meta.dirname, 'python', 'idempotent_producer.py');
    const { stdout } = await run(PYTHON, [script, bootstrap, 'idem-confluent', String(RECORDS)], { timeout: 120_000 });
    const result = JSON.parse(stdout) as { delivered: number; errors: string[] };
    assert.deepEqual(result.errors, []);
    assert.equal(result.delivered, RECORDS);
    await assertWrittenOnceInOrder(broker, proxy, 'idem-confluent');
  } finally {
    await proxy.close();
    await broker.stop();
  }
});
