/**
 * `samsa configs` for client quotas, as kafka-configs.sh: users, clients, a user's client id, ips and their
 * defaults altered and described with Kafka's lines (values printed as Java doubles), SCRAM credentials beside a
 * user's quotas, and the broker's refusals passed on. What the tool wrote is read back with @platformatic/kafka's
 * admin client (DescribeClientQuotas), and a quota set with the tool is enforced on kafka-python.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Admin } from '@platformatic/kafka';
import { type Broker, startBroker } from '../../src/index.js';
import { samsa } from './cli.js';
import { PYTHON } from './clients.js';

const run = promisify(execFile);

let broker: Broker;
let bootstrap: string[];

before(async () => {
  broker = await startBroker({});
  bootstrap = ['--bootstrap-server', broker.bootstrap];
});

after(async () => {
  await broker?.stop();
});

async function configs(...args: string[]): Promise<string> {
  const r = await samsa(['configs', ...bootstrap, ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test("configs --alter / --describe for users, clients, a user's client id and ips, as kafka-configs.sh prints them", async () => {
  // The README's examples.
  assert.equal(
    await configs(
      '--alter',
      '--entity-type',
      'users',
      '--entity-name',
      'alice',
      '--add-config',
      'producer_byte_rate=1048576,consumer_byte_rate=2097152,request_percentage=50',
    ),
    'Completed updating config for user alice.\n',
  );
  assert.equal(
    await configs('--alter', '--entity-type', 'clients', '--entity-default', '--add-config', 'producer_byte_rate=4096'),
    'Completed updating default config for clients in the cluster.\n',
  );
  assert.equal(
    await configs(
      '--alter',
      '--entity-type',
      'users',
      '--entity-name',
      'alice',
      '--entity-type',
      'clients',
      '--entity-name',
      'reports',
      '--add-config',
      'controller_mutation_rate=5',
    ),
    'Completed updating config for user alice.\n',
  );
  assert.equal(
    await configs(
      '--alter',
      '--entity-type',
      'ips',
      '--entity-name',
      '10.1.2.3',
      '--add-config',
      'connection_creation_rate=20',
    ),
    'Completed updating config for ip 10.1.2.3.\n',
  );
  assert.equal(
    await configs('--alter', '--user-defaults', '--add-config', 'consumer_byte_rate=10000000'),
    'Completed updating default config for users in the cluster.\n',
  );

  assert.equal(
    await configs('--describe', '--entity-type', 'users', '--entity-name', 'alice'),
    "Quota configs for user-principal 'alice' are producer_byte_rate=1048576.0, consumer_byte_rate=2097152.0, request_percentage=50.0\n",
  );
  assert.equal(
    await configs('--describe', '--user', 'alice', '--client', 'reports'),
    "Quota configs for user-principal 'alice', client-id 'reports' are controller_mutation_rate=5.0\n",
  );
  assert.equal(
    await configs('--describe', '--entity-type', 'clients'),
    'Quota configs for the default client-id are producer_byte_rate=4096.0\n',
  );
  assert.equal(
    await configs('--describe', '--entity-type', 'users', '--entity-default'),
    'Quota configs for the default user-principal are consumer_byte_rate=1.0E7\n',
  );
  assert.equal(
    await configs('--describe', '--ip', '10.1.2.3'),
    "Quota configs for ip '10.1.2.3' are connection_creation_rate=20.0\n",
  );

  // What another client reads is what the tool wrote.
  const admin = new Admin({ clientId: 'quota-reader', bootstrapBrokers: [broker.bootstrap] });
  try {
    const described = await admin.describeClientQuotas({
      components: [{ entityType: 'user', matchType: 0, match: 'alice' }],
      strict: true,
    });
    assert.deepEqual(described, [
      {
        entity: [{ entityType: 'user', entityName: 'alice' }],
        values: [
          { key: 'producer_byte_rate', value: 1048576 },
          { key: 'consumer_byte_rate', value: 2097152 },
          { key: 'request_percentage', value: 50 },
        ],
      },
    ]);
  } finally {
    await admin.close();
  }

  assert.equal(
    await configs('--alter', '--user', 'alice', '--delete-config', 'request_percentage,consumer_byte_rate'),
    'Completed updating config for user alice.\n',
  );
  assert.equal(
    await configs('--describe', '--user', 'alice'),
    "Quota configs for user-principal 'alice' are producer_byte_rate=1048576.0\n",
  );
});

test("configs on users sets SCRAM credentials and quotas in one --add-config, and describes both; the broker's refusals are told", async () => {
  assert.equal(
    await configs(
      '--alter',
      '--entity-type',
      'users',
      '--entity-name',
      'bob',
      '--add-config',
      'SCRAM-SHA-256=[iterations=8192,password=bob-secret],producer_byte_rate=2048',
    ),
    'Completed updating config for user bob.\n',
  );
  assert.equal(
    await configs('--describe', '--entity-type', 'users', '--entity-name', 'bob'),
    "Quota configs for user-principal 'bob' are producer_byte_rate=2048.0\nSCRAM credential configs for user-principal 'bob' are SCRAM-SHA-256=iterations=8192\n",
  );
  const wrongKey = await samsa([
    'configs',
    ...bootstrap,
    '--alter',
    '--entity-type',
    'clients',
    '--entity-name',
    'app',
    '--add-config',
    'connection_creation_rate=5',
  ]);
  assert.equal(wrongKey.code, 1);
  assert.equal(wrongKey.stderr, 'samsa configs: Invalid configuration key connection_creation_rate\n');
  const notLong = await samsa([
    'configs',
    ...bootstrap,
    '--alter',
    '--client',
    'app',
    '--add-config',
    'producer_byte_rate=1.5',
  ]);
  assert.equal(notLong.code, 1);
  assert.equal(notLong.stderr, 'samsa configs: Configuration producer_byte_rate must be a Long value\n');
  const combined = await samsa([
    'configs',
    ...bootstrap,
    '--alter',
    '--ip',
    '10.0.0.1',
    '--user',
    'bob',
    '--add-config',
    'connection_creation_rate=5',
  ]);
  assert.equal(combined.code, 2);
  assert.match(combined.stderr, /^samsa configs: only users and clients may be combined\n/);
  const scramOnClient = await samsa([
    'configs',
    ...bootstrap,
    '--alter',
    '--client',
    'app',
    '--add-config',
    'SCRAM-SHA-256=[password=x]',
  ]);
  assert.equal(scramOnClient.code, 2);
  assert.match(scramOnClient.stderr, /^samsa configs: SCRAM credentials are set on one named user only\n/);
});

test('a request_percentage set with configs is enforced: kafka-python with that client id is throttled', async () => {
  await configs('--alter', '--client', 'tool-throttled', '--add-config', 'request_percentage=0.01');
  const script = `
import sys
from kafka.client_async import KafkaClient
from kafka.protocol.metadata import MetadataRequest
c = KafkaClient(bootstrap_servers=sys.argv[1], client_id='tool-throttled', api_version=(2, 5))
node = c.least_loaded_node()
while not c.ready(node): c.poll(timeout_ms=100)
for i in range(2000):
    f = c.send(node, MetadataRequest[5](topics=None, allow_auto_topic_creation=False))
    c.poll(future=f)
    if f.value.throttle_time_ms > 0:
        print(f.value.throttle_time_ms)
        break
c.close()
`;
  const { stdout } = await run(PYTHON, ['-c', script, broker.bootstrap], { timeout: 120_000 });
  assert.ok(Number(stdout.trim()) > 0, `no throttle: ${stdout}`);
});
