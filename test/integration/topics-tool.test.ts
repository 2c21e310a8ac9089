import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Broker, startBroker } from '../../src/index.js';
import { type Run, samsa } from './cli.js';

let broker: Broker;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  await broker.stop();
});

function topics(...args: string[]): Promise<Run> {
  return samsa(['topics', ...args]);
}

test('samsa topics: create with configs, list, describe like Kafka, alter partitions, delete', async () => {
  const b = ['--bootstrap-server', broker.bootstrap];
  const created = await topics(
    ...b,
    '--create',
    '--topic',
    'tooled',
    '--partitions',
    '3',
    '--config',
    'retention.ms=60000',
  );
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stdout, 'Created topic tooled.\n');

  const again = await topics(...b, '--create', '--topic', 'tooled');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^samsa topics: TOPIC_ALREADY_EXISTS/);
  assert.equal((await topics(...b, '--create', '--topic', 'tooled', '--if-not-exists')).code, 0);
  const badConfig = await topics(...b, '--create', '--topic', 'other', '--config', 'no.such=1');
  assert.equal(badConfig.code, 1);
  assert.match(badConfig.stderr, /INVALID_CONFIG: Unknown topic config name: no\.such/);

  assert.deepEqual((await topics(...b, '--list')).stdout.trim().split('\n'), ['tooled']);
  assert.equal((await topics(...b, '--create', '--topic', 'tooled-too', '--partitions', '1')).code, 0);
  // --topic with --list and --describe is Kafka's include list: whole names, by regular expression.
  assert.deepEqual((await topics(...b, '--list', '--topic', 'tool.*')).stdout.trim().split('\n'), [
    'tooled',
    'tooled-too',
  ]);
  assert.equal((await topics(...b, '--list', '--topic', 'tool')).stdout, '');
  assert.equal((await topics(...b, '--delete', '--topic', 'tooled-too')).code, 0);

  const described = await topics(...b, '--describe', '--topic', 'tooled');
  const lines = described.stdout.trim().split('\n');
  assert.match(
    lines[0]!,
    /^Topic: tooled\tTopicId: \S{22}\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: retention\.ms=60000$/,
  );
  assert.deepEqual(
    lines.slice(1),
    [0, 1, 2].map((p) => `\tTopic: tooled\tPartition: ${p}\tLeader: 0\tReplicas: 0\tIsr: 0`),
  );

  const missing = await topics(...b, '--describe', '--topic', 'missing');
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, "samsa topics: Topic 'missing' does not exist as expected\n");
  assert.deepEqual(await topics(...b, '--describe', '--topic', 'missing', '--if-exists'), {
    code: 0,
    stdout: '',
    stderr: '',
  });
  assert.equal((await topics(...b, '--list')).stdout.trim(), 'tooled', 'describing a missing topic did not create it');

  assert.equal((await topics(...b, '--alter', '--topic', 'tooled', '--partitions', '5')).code, 0);
  assert.match((await topics(...b, '--describe', '--topic', 'tooled')).stdout, /PartitionCount: 5/);
  const shrink = await topics(...b, '--alter', '--topic', 'tooled', '--partitions', '2');
  assert.equal(shrink.code, 1);
  assert.match(shrink.stderr, /INVALID_PARTITIONS/);

  assert.equal((await topics(...b, '--delete', '--topic', 'tooled')).code, 0);
  assert.equal((await topics(...b, '--list')).stdout.trim(), '');
  assert.equal((await topics(...b, '--delete', '--topic', 'tooled', '--if-exists')).code, 0);
  assert.equal((await topics(...b, '--alter', '--topic', 'tooled', '--partitions', '9', '--if-exists')).code, 0);
});

test('samsa topics: usage errors exit 2 with the usage, before any connection; an unreachable broker is one line', async () => {
  // An address where nothing listens: usage errors are found without connecting.
  const b = ['--bootstrap-server', '127.0.0.1:1'];
  const usage = async (args: string[], message: RegExp) => {
    const r = await topics(...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, message);
    assert.match(r.stderr, /\nusage: samsa topics /);
  };
  await usage([...b, '--create'], /--topic is required/);
  await usage(['--list'], /--bootstrap-server is required/);
  await usage([...b, '--list', '--describe'], /exactly one of/);
  await usage([...b, '--alter', '--topic', 't'], /--alter needs --partitions/);
  await usage([...b, '--create', '--topic', 't', '--partitions', 'many'], /--partitions must be an integer/);
  await usage([...b, '--create', '--topic', 't', '--config', 'retention.ms'], /--config needs key=value/);
  await usage([...b, '--delete', '--topic', 't', '--partitions', '3'], /--partitions is not valid with --delete/);
  await usage([...b, '--list', '--topic', '('], /not a valid regular expression/);

  const help = await topics('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: samsa topics/);

  const unreachable = await topics(...b, '--list');
  assert.equal(unreachable.code, 1);
  assert.equal(
    unreachable.stderr,
    'samsa topics: cannot reach a broker at 127.0.0.1:1 (connect ECONNREFUSED 127.0.0.1:1)\n',
  );
});
