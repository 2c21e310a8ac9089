import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ITopicConfig, Kafka } from 'kafkajs';

const run = promisify(execFile);

/** Debian's Python, where python3-kafka and python3-confluent-kafka are installed. */
export const PYTHON = '/usr/bin/python3';

/** Creates topics through KafkaJS's admin client, connected for this call only. */
export async function createTopics(kafka: Kafka, topics: ITopicConfig[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}

export interface ConsumedRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: Array<[string, string]>;
  timestamp: number;
}

/**
 * Reads every record of the given partitions from the beginning with kafka-python, assigning the partitions
 * directly (no consumer group), until the end offsets seen at the start. Its minute without a record only bounds a
 * hang: a loaded machine can keep the first fetch waiting for seconds.
 */
export async function consumeWithKafkaPython(
  bootstrap: string,
  topic: string,
  partitions: number[],
): Promise<ConsumedRecord[]> {
  const script = `
import json, sys
from kafka import KafkaConsumer, TopicPartition
c = KafkaConsumer(bootstrap_servers=sys.argv[1], group_id=None, enable_auto_commit=False, consumer_timeout_ms=60000)
tps = [TopicPartition(sys.argv[2], int(p)) for p in sys.argv[3].split(',')]
c.assign(tps)
c.seek_to_beginning(*tps)
end = c.end_offsets(tps)
out = []
remaining = {tp for tp in tps if end[tp] > 0}
for m in (c if remaining else []):
    out.append({"partition": m.partition, "offset": m.offset,
                "key": m.key.decode() if m.key is not None else None,
                "value": m.value.decode() if m.value is not None else None,
                "headers": [[k, v.decode()] for k, v in (m.headers or [])],
                "timestamp": m.timestamp})
    tp = TopicPartition(m.topic, m.partition)
    if m.offset + 1 >= end[tp]:
        remaining.discard(tp)
    if not remaining:
        break
c.close()
print(json.dumps(out))
`;
  const { stdout } = await run(PYTHON, ['-c', script, bootstrap, topic, partitions.join(',')], { timeout: 120_000 });
  return JSON.parse(stdout) as ConsumedRecord[];
}

/**
 * Reads a partition from the beginning to its end with kcat (librdkafka), no consumer group. librdkafka reads
 * read_committed by default; `isolation` chooses.
 */
export async function consumeWithKcat(
  bootstrap: string,
  topic: string,
  partition: number,
  isolation: 'read_committed' | 'read_uncommitted' = 'read_committed',
): Promise<ConsumedRecord[]> {
  const { stdout } = await run(
    'kcat',
    [
      '-b',
      bootstrap,
      '-C',
      '-t',
      topic,
      '-p',
      String(partition),
      '-o',
      'beginning',
      '-e',
      '-J',
      '-q',
      '-X',
      `isolation.level=${isolation}`,
    ],
    {
      timeout: 60_000,
    },
  );
  return stdout
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => {
      const m = JSON.parse(l) as {
        partition: number;
        offset: number;
        key: string | null;
        payload: string | null;
        headers?: string[];
        ts: number;
      };
      const headers: Array<[string, string]> = [];
      for (let i = 0; m.headers && i + 1 < m.headers.length; i += 2) headers.push([m.headers[i]!, m.headers[i + 1]!]);
      return { partition: m.partition, offset: m.offset, key: m.key, value: m.payload, headers, timestamp: m.ts };
    });
}

/** KafkaJS produces two records ('one', 'two') to `topic` and reads them back in a group named after it. */
export async function kafkaJsRoundTrip(kafka: Kafka, topic: string): Promise<string[]> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ value: 'one' }, { value: 'two' }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: topic });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: string[] = [];
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ message }) => {
          seen.push(message.value!.toString());
          if (seen.length === 2) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return seen;
}
