import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { consumeWithKafkaPython, consumeWithKcat } from './clients.js';

let broker: Broker;
let kafka: Kafka;

before(async () => {
  broker = await startBroker();
  kafka = new Kafka({ clientId: 'samsa-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
});

after(async () => {
  await broker.stop();
});

test('KafkaJS: create a topic, produce keyed records with headers, read them back in order', async () => {
  const admin = kafka.admin();
  await admin.connect();
  assert.equal(await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }] }), true);
  assert.deepEqual(await admin.listTopics(), ['orders']);
  const metadata = await admin.fetchTopicMetadata({ topics: ['orders'] });
  assert.equal(metadata.topics[0]!.partitions.length, 3);

  const producer = kafka.producer();
  await producer.connect();
  const sent: Array<{ key: string; value: string; partition: number }> = [];
  for (let i = 0; i < 30; i++) {
    const partition = i % 3;
    sent.push({ key: `k${i}`, value: `v${i}`, partition });
  }
  await producer.send({
    topic: 'orders',
    acks: -1,
    messages: sent.map((m) => ({ ...m, headers: { trace: `t-${m.key}` } })),
  });
  await producer.send({
    topic: 'orders',
    compression: CompressionTypes.GZIP,
    messages: [{ key: 'gz', value: 'zipped', partition: 0 }],
  });
  await producer.disconnect();

  const offsets = await admin.fetchTopicOffsets('orders');
  assert.deepEqual(offsets.map((o) => [o.partition, o.high, o.low]).sort(), [
    [0, '11', '0'],
    [1, '10', '0'],
    [2, '10', '0'],
  ]);

  await admin.disconnect();

  // Read back with independent clients (consumer groups come with the group coordinator).
  const viaPython = await consumeWithKafkaPython(broker.bootstrap, 'orders', [0, 1, 2]);
  const viaKcat = (await Promise.all([0, 1, 2].map((p) => consumeWithKcat(broker.bootstrap, 'orders', p)))).flat();
  const simplify = (rs: typeof viaPython, partition: number) =>
    rs
      .filter((r) => r.partition === partition)
      .sort((a, b) => a.offset - b.offset)
      .map((r) => ({ key: r.key, value: r.value, trace: r.headers.find(([k]) => k === 'trace')?.[1] ?? '' }));

  for (let partition = 0; partition < 3; partition++) {
    const expected = sent
      .filter((m) => m.partition === partition)
      .map((m) => ({ key: m.key, value: m.value, trace: `t-${m.key}` }));
    if (partition === 0) expected.push({ key: 'gz', value: 'zipped', trace: '' });
    assert.deepEqual(simplify(viaPython, partition), expected, `kafka-python, partition ${partition}`);
    assert.deepEqual(simplify(viaKcat, partition), expected, `kcat, partition ${partition}`);
  }
});
