import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { withTempDir } from '../storage/helpers.js';
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

test('console-producer: producer properties and a config file, --sync, null.marker, and a line without a key', async () => {
  await withTempDir(async (dir) => {
    const config = join(dir, 'producer.properties');
    await writeFile(
      config,
      'acks=1\nlinger.ms=5\nkey.serializer=org.apache.kafka.common.serialization.StringSerializer\n',
    );
    const produced = await samsa(
      [
        'console-producer',
        ...b,
        '--topic',
        'configured',
        '--producer.config',
        config,
        '--producer-property',
        'client.id=console-test',
        '--producer-property',
        'no.such.property=1',
        '--sync',
        '--property',
        'parse.key=true',
        '--property',
        'null.marker=-',
      ],
      'a\t1\n-\t2\nc\t-\n',
    );
    assert.equal(produced.code, 0, produced.stderr);
    assert.deepEqual(lines(produced.stderr), [
      'samsa console-producer: producer property key.serializer has no effect here and is ignored',
      'samsa console-producer: producer property no.such.property has no effect here and is ignored',
    ]);
  });
  // The topic did not exist: producing created it, with the broker's default of two partitions.
  assert.match(await ok(['topics', ...b, '--describe', '--topic', 'configured']), /PartitionCount: 2/);
  const viaPython = await consumeWithKafkaPython(broker.bootstrap, 'configured', [0, 1]);
  assert.deepEqual(
    viaPython.map((r) => [r.key, r.value]).sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    [
      ['a', '1'],
      ['c', null],
      [null, '2'],
    ],
  );

  // A line without the separator stops the tool, after the lines before it are sent.
  await ok(['topics', ...b, '--create', '--topic', 'badline', '--partitions', '1']);
  const bad = await samsa(
    ['console-producer', ...b, '--topic', 'badline', '--property', 'parse.key=true', '--property', 'key.separator=:'],
    'a:1\nb:2\nno separator\nc:3\n',
  );
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, "samsa console-producer: No key separator found on line number 3: 'no separator'\n");
  assert.deepEqual(
    (await consumeWithKcat(broker.bootstrap, 'badline', 0)).map((r) => [r.key, r.value]),
    [
      ['a', '1'],
      ['b', '2'],
    ],
  );
  // ignore.error=true sends such a line whole, as a value without a key.
  await ok(
    ['console-producer', ...b, '--topic', 'badline', '--property', 'parse.key=true', '--property', 'ignore.error=true'],
    'no separator\n',
  );
  assert.deepEqual((await consumeWithKcat(broker.bootstrap, 'badline', 0)).map((r) => [r.key, r.value]).at(-1), [
    null,
    'no separator',
  ]);
});

test('console-consumer --group commits what it printed: the next run of the group starts after it', async () => {
  await ok(['topics', ...b, '--create', '--topic', 'grouped', '--partitions', '1']);
  await ok(['console-producer', ...b, '--topic', 'grouped'], 'one\ntwo\nthree\n');
  const run = (maxMessages: number) =>
    ok([
      'console-consumer',
      ...b,
      '--topic',
      'grouped',
      '--group',
      'console-group',
      '--from-beginning',
      '--max-messages',
      String(maxMessages),
    ]);
  // All three records come in one fetch; the one not printed is not committed.
  assert.deepEqual(lines(await run(2)), ['one', 'two']);
  await ok(['console-producer', ...b, '--topic', 'grouped'], 'four\nfive\n');
  assert.deepEqual(lines(await run(3)), ['three', 'four', 'five']);
});

test('console-consumer --include reads every topic whose whole name matches, with and without --group', async () => {
  await ok(['console-producer', ...b, '--topic', 'incl-a'], 'a1\na2\n');
  await ok(['console-producer', ...b, '--topic', 'incl-b'], 'b1\n');
  await ok(['console-producer', ...b, '--topic', 'xincl-c'], 'c1\n');
  const read = async (...extra: string[]) =>
    lines(
      await ok(['console-consumer', ...b, '--include', 'incl-.*', '--from-beginning', '--max-messages', '3', ...extra]),
    ).sort();
  const expected = ['a1', 'a2', 'b1'];
  assert.deepEqual(await read(), expected, 'xincl-c does not match as a whole name');
  assert.deepEqual(await read('--group', 'include-group'), expected);
  const described = await ok(['consumer-groups', ...b, '--describe', '--group', 'include-group']);
  assert.match(described, /^include-group\s+incl-b\s+\d\s+1\s+1\s+0\s/m, 'the group committed what it printed');
  const both = await samsa(['console-consumer', ...b, '--include', 'incl-.*', '--topic', 'incl-a']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /Exactly one of include\/topic is required\./);
  const none = await samsa(['console-consumer', ...b, '--include', 'nothing-.*']);
  assert.equal(none.code, 1);
  assert.equal(none.stderr, 'samsa console-consumer: no topic matches --include nothing-.*\n');
});

test('console tools: bad usage exits 2 with the usage; an unreachable broker is one line and exit 1', async () => {
  const usage = async (args: string[], message: RegExp) => {
    const r = await samsa(args);
    assert.equal(r.code, 2, `samsa ${args.join(' ')}`);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /\nusage: samsa /);
  };
  const x = [...b, '--topic', 'x'];
  await usage(['console-consumer', ...x, '--offset', '3'], /The partition is required when offset is specified/);
  await usage(['console-consumer', ...x, '--partition', '0', '--offset', 'soon'], /offset value 'soon' is incorrect/);
  await usage(
    ['console-consumer', ...x, '--partition', '0', '--offset', '3', '--from-beginning'],
    /from-beginning and offset cannot be specified together/,
  );
  await usage(['console-consumer', ...x, '--partition', '0', '--group', 'g'], /group and partition cannot be/);
  await usage(['console-consumer', ...b], /Exactly one of include\/topic is required/);
  await usage(['console-producer', ...x, '--compression-codec', 'brotli'], /unknown compression codec 'brotli'/);
  await usage(['console-producer', ...x, '--producer-property', 'acks=2'], /acks must be all, -1, 0 or 1/);
  await usage(['console-producer', '--topic', 'x'], /--bootstrap-server is required/);
  await usage(['console-producer', ...x, '--no-such-flag'], /unknown option --no-such-flag/);

  const help = await samsa(['console-consumer', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: samsa console-consumer/);

  const noPartition = await samsa(['console-consumer', ...b, '--topic', 'console', '--partition', '5']);
  assert.equal(noPartition.code, 1);
  assert.equal(noPartition.stderr, 'samsa console-consumer: partition 5 of topic console does not exist\n');

  const producer = await samsa(['console-producer', '--broker-list', '127.0.0.1:1', '--topic', 'x'], 'hello\n');
  assert.equal(producer.code, 1);
  assert.equal(
    producer.stderr,
    'samsa console-producer: cannot reach a broker at 127.0.0.1:1 (connect ECONNREFUSED 127.0.0.1:1)\n',
  );
  const consumer = await samsa(['console-consumer', '--bootstrap-server', '127.0.0.1:1', '--topic', 'x']);
  assert.equal(consumer.code, 1);
  assert.equal(
    consumer.stderr,
    'samsa console-consumer: cannot reach a broker at 127.0.0.1:1 (connect ECONNREFUSED 127.0.0.1:1)\n',
  );
});

test('console-consumer --isolation-level read_committed skips aborted transactions; the default reads them', async () => {
  await ok(['topics', ...b, '--create', '--topic', 'console-txn', '--partitions', '1']);
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ transactionalId: 'console-txn', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (const [value, commit] of [
    ['kept', true],
    ['dropped', false],
    ['also kept', true],
  ] as const) {
    const txn = await producer.transaction();
    await txn.send({ topic: 'console-txn', messages: [{ value, partition: 0 }] });
    if (commit) await txn.commit();
    else await txn.abort();
  }
  await producer.disconnect();
  const read = (extra: string[]) =>
    ok([
      'console-consumer',
      ...b,
      '--topic',
      'console-txn',
      '--from-beginning',
      '--max-messages',
      '3',
      '--timeout-ms',
      '3000',
      ...extra,
    ]);
  assert.deepEqual(lines(await read([])), ['kept', 'dropped', 'also kept']);
  assert.deepEqual(lines(await read(['--isolation-level', 'read_committed'])), ['kept', 'also kept']);
  assert.deepEqual(lines(await read(['--isolation-level', 'read_committed', '--group', 'console-txn-reader'])), [
    'kept',
    'also kept',
  ]);
  const bad = await samsa(['console-consumer', ...b, '--topic', 'console-txn', '--isolation-level', 'serializable']);
  assert.equal(bad.code, 2);
});
