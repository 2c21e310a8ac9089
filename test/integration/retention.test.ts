import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { startBroker } from '../../src/index.js';

const { ConfigResourceTypes, Kafka, logLevel } = kafkajs;

test('retention: with small segment.bytes and retention.ms, old segments go and the earliest offset moves', async () => {
  const broker = await startBroker({ logRetentionCheckIntervalMs: 100 });
  try {
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic: 'short-lived',
          numPartitions: 1,
          // Kafka's default retention while the records are written and counted: 1 s from the start could delete
          // the first segments before the count, on a loaded machine.
          configEntries: [{ name: 'segment.bytes', value: '2000' }],
        },
      ],
    });
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < 30; i++) {
      await producer.send({ topic: 'short-lived', messages: [{ value: `record ${i} `.repeat(20) }] });
    }
    await producer.disconnect();
    const before = await admin.fetchTopicOffsets('short-lived');
    assert.deepEqual([before[0]!.low, before[0]!.high], ['0', '30']);
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'short-lived',
          configEntries: [
            { name: 'segment.bytes', value: '2000' },
            { name: 'retention.ms', value: '1000' },
          ],
        },
      ],
    });

    // (60 s: a bound on a hang, not on the retention's promptness.)
    let low = '0';
    for (let waited = 0; waited < 60_000 && low === '0'; waited += 200) {
      await sleep(200);
      low = (await admin.fetchTopicOffsets('short-lived'))[0]!.low;
    }
    assert.ok(Number(low) > 0, `the earliest offset moved (now ${low})`);
    const after = await admin.fetchTopicOffsets('short-lived');
    assert.equal(after[0]!.high, '30', 'the active segment and the end of the log stay');
    await admin.disconnect();
  } finally {
    await broker.stop();
  }
});
