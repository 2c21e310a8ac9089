import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { samsa } from './cli.js';
import { consumeWithKafkaPython, consumeWithKcat } from './clients.js';

let broker: Broker;
let b: string[];

before(async () => {
  broker = await startBroker({ numPartitions: 2, groups: { offsetsTopicNumPartitions: 3 } });
  b = ['--bootstrap-server', broker.bootstrap];
});

after(async () => {
  await broker.stop();
});

/** Runs a tool that must succeed, and returns its standard output. */
async function ok(args: string[], input = ''): Promise<string> {
  const r = await samsa(args, input);
  assert.equal(r.code, 0, `samsa ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

test('console-producer sends keyed lines under a codec; console-consumer prints them back with keys, partitions, offsets', async () => {
  await ok(['topics', ...b, '--create', '--topic', 'console', '--partitions', '1']);
  const input = Array.from({ length: 30 }, (_, i) => `key${i}:value ${i}`).join('\n');
  const produced = await samsa(
    [
      'console-producer',
      ...b,
      '--topic',
      'console',
      '--property',
      'parse.key=true',
      '--property',
      'key.separator=:',
      // Without a value, Kafka's default codec: gzip.
      '--compression-codec',
    ],
    `${input}\n`,
  );
  assert.equal(produced.code, 0, produced.stderr);

  // An independent client sees what the tool wrote.
  const viaPython = await consumeWithKafkaPython(broker.bootstrap, 'console', [0]);
  assert.deepEqual(
    viaPython.map((r) => [r.offset, r.key, r.value]),
    Array.from({ length: 30 }, (_, i) => [i, `key${i}`, `value ${i}`]),
  );

  const consumed = await samsa([
    'console-consumer',
    ...b,
    '--topic',
    'console',
    '--from-beginning',
    '--max-messages',
    '30',
    '--property',
    'print.key=true',
    '--property',
    'print.partition=true',
    '--property',
    'print.offset=true',
  ]);
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.deepEqual(
    lines(consumed.stdout),
    Array.from({ length: 30 }, (_, i) => `Partition:0\tOffset:${i}\tkey${i}\tvalue ${i}`),
  );
  assert.equal(consumed.stderr, 'Processed a total of 30 messages\n');

  const fromOffset = await ok([
    'console-consumer',
    ...b,
    '--topic',
    'console',
    '--partition',
    '0',
    '--offset',
    '27',
    '--max-messages',
    '3',
  ]);
  assert.deepEqual(lines(fromOffset), ['value 27', 'value 28', 'value 29']);

  // Without --group the partitions are read directly: no group is left behind in the coordinator.
  assert.equal(await ok(['consumer-groups', ...b, '--list']), '');
});

test('console-producer and console-consumer: snappy, lz4 and zstd batches, read back by kcat too', async () => {
  for (const codec of ['snappy', 'lz4', 'zstd']) {
    const topic = `codec-${codec}`;
    await ok(['topics', ...b, '--create', '--topic', topic, '--partitions', '1']);
    const values = Array.from({ length: 50 }, (_, i) => `${codec} record ${i} ${'x'.repeat(40)}`);
    await ok(['console-producer', ...b, '--topic', topic, '--compression-codec', codec], `${values.join('\n')}\n`);
    assert.deepEqual(
      (await consumeWithKcat(broker.bootstrap, topic, 0)).map((r) => r.value),
      values,
      `kcat reads the ${codec} batches`,
    );
    const consumed = await ok(['console-consumer', ...b, '--topic', topic, '--from-beginning', '--max-messages', '50']);
    assert.deepEqual(lines(consumed), values, `console-consumer reads the ${codec} batches`);
  }
});

test("console-consumer prints like Kafka's DefaultMessageFormatter", async () => {
  await ok(['topics', ...b, '--create', '--topic', 'formatted', '--partitions', '1']);
  const kafka = new Kafka({ clientId: 'formatter-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: 'formatted',
    messages: [
      { key: 'k1', value: 'v1', headers: { h1: 'a', h2: 'b' }, timestamp: '1700000000000' },
      { key: null, value: null, timestamp: '1700000000001' },
      { key: 'k3', value: 'v3', timestamp: '1700000000002' },
    ],
  });
  await producer.disconnect();

  const everything = await ok([
    'console-consumer',
    ...b,
    '--topic',
    'formatted',
    '--from-beginning',
    '--max-messages',
    '3',
    '--property',
    'print.timestamp=true',
    '--property',
    'print.partition=true',
    '--property',
    'print.offset=true',
    '--property',
    'print.headers=true',
    '--property',
    'print.key=true',
    '--property',
    'key.separator=|',
    // Kafka 4's name for --property.
    '--formatter-property',
    'null.literal=NIL',
  ]);
  assert.deepEqual(lines(everything), [
    'CreateTime:1700000000000|Partition:0|Offset:0|h1:a,h2:b|k1|v1',
    'CreateTime:1700000000001|Partition:0|Offset:1|NO_HEADERS|NIL|NIL',
    'CreateTime:1700000000002|Partition:0|Offset:2|NO_HEADERS|k3|v3',
  ]);

  const keysOnly = await ok([
    'console-consumer',
    ...b,
    '--topic',
    'formatted',
    '--from-beginning',
    '--max-messages',
    '3',
    '--property',
    'print.key=true',
    '--property',
    'print.value=false',
    '--property',
    'line.separator=;',
  ]);
  assert.equal(keysOnly, 'k1;null;k3;');

  await ok([
    'topics',
    ...b,
    '--create',
    '--topic',
    'appended',
    '--partitions',
    '1',
    '--config',
    'message.timestamp.type=LogAppendTime',
  ]);
  const before = Date.now();
  await ok(['console-producer', ...b, '--topic', 'appended'], 'stamped\n');
  const stamped = await ok([
    'console-consumer',
    ...b,
    '--topic',
    'appended',
    '--from-beginning',
    '--max-messages',
    '1',
    '--property',
    'print.timestamp=true',
  ]);
  const m = /^LogAppendTime:(\d+)\tstamped\n$/.exec(stamped);
  assert.ok(m, stamped);
  assert.ok(Number(m[1]) >= before, 'the broker stamped its own time');
});
