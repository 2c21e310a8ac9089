import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseBrokerConfig, resolveListeners, toBrokerSettings } from '../../src/config/broker-config.js';
import { type Broker, startBroker } from '../../src/index.js';
import { samsa } from './cli.js';

const PROPERTIES: Record<string, string> = {
  listeners: 'SASL_PLAINTEXT://127.0.0.1:0',
  'listener.security.protocol.map': 'SASL_PLAINTEXT:SASL_PLAINTEXT',
  'sasl.enabled.mechanisms': 'PLAIN',
  'listener.name.sasl_plaintext.plain.sasl.jaas.config':
    'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_bob="bob-secret";',
  'authorizer.class.name': 'kafka.security.authorizer.AclAuthorizer',
  'super.users': 'User:admin',
};

let dir: string;
let broker: Broker;
let bootstrap: string;

/** Kafka's client properties for --command-config, as `user`. */
async function commandConfig(user: string, password: string): Promise<string> {
  const file = join(dir, `${user}.properties`);
  await writeFile(
    file,
    [
      'security.protocol=SASL_PLAINTEXT',
      'sasl.mechanism=PLAIN',
      `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="${user}" password="${password}";`,
    ].join('\n'),
  );
  return file;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'samsa-acls-tool-'));
  const values = parseBrokerConfig(new Map(Object.entries(PROPERTIES))).values;
  broker = await startBroker({
    listeners: resolveListeners(values),
    host: '127.0.0.1',
    logDirs: [join(dir, 'logs')],
    authorizer: toBrokerSettings(values).authorizer,
    staticConfigs: PROPERTIES,
  });
  bootstrap = `127.0.0.1:${broker.settings.listeners![0]!.port}`;
});

after(async () => {
  await broker?.stop();
  await rm(dir, { recursive: true, force: true });
});

test("samsa acls adds, lists and removes ACLs with Kafka's flags and output, over SASL with --command-config", async () => {
  const admin = await commandConfig('admin', 'admin-secret');
  const base = ['acls', '--bootstrap-server', bootstrap, '--command-config', admin];

  const added = await samsa([
    ...base,
    '--add',
    '--allow-principal',
    'User:bob',
    '--operation',
    'Read',
    '--operation',
    'Describe',
    '--topic',
    'orders',
  ]);
  assert.equal(added.code, 0, added.stderr);
  const pattern = 'ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)';
  assert.equal(
    added.stdout,
    [
      `Adding ACLs for resource \`${pattern}\`: `,
      ' \t(principal=User:bob, host=*, operation=READ, permissionType=ALLOW)',
      '\t(principal=User:bob, host=*, operation=DESCRIBE, permissionType=ALLOW) ',
      '',
      `Current ACLs for resource \`${pattern}\`: `,
      ' \t(principal=User:bob, host=*, operation=READ, permissionType=ALLOW)',
      '\t(principal=User:bob, host=*, operation=DESCRIBE, permissionType=ALLOW) ',
      '',
      '',
    ].join('\n'),
  );

  const consumer = await samsa([
    ...base,
    '--add',
    '--consumer',
    '--allow-principal',
    'User:bob',
    '--topic',
    'pay-',
    '--group',
    'bob-',
    '--resource-pattern-type',
    'prefixed',
  ]);
  assert.equal(consumer.code, 0, consumer.stderr);

  const listed = await samsa([...base, '--list', '--principal', 'User:bob']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^ACLs for principal `User:bob`\n/);
  assert.match(
    listed.stdout,
    /ResourcePattern\(resourceType=GROUP, name=bob-, patternType=PREFIXED\)`: \n \t\(principal=User:bob, host=\*, operation=READ, permissionType=ALLOW\) \n/,
  );
  assert.match(listed.stdout, /ResourcePattern\(resourceType=TOPIC, name=pay-, patternType=PREFIXED\)/);

  // bob himself may not change ACLs: the tool reports the broker's error and fails.
  const bob = await commandConfig('bob', 'bob-secret');
  const refused = await samsa([
    'acls',
    '--bootstrap-server',
    bootstrap,
    '--command-config',
    bob,
    '--add',
    '--allow-principal',
    'User:bob',
    '--cluster',
  ]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /CLUSTER_AUTHORIZATION_FAILED|Cluster authorization failed/i);

  const removed = await samsa([...base, '--remove', '--force', '--topic', 'orders']);
  assert.equal(removed.code, 0, removed.stderr);
  const after = await samsa([...base, '--list', '--topic', 'orders']);
  assert.equal(after.stdout, '', 'no ACL left on orders');
  const remaining = await samsa([...base, '--list']);
  assert.match(remaining.stdout, /name=pay-, patternType=PREFIXED/);
});

test('samsa acls refuses bad usage with exit code 2 and the reason', async () => {
  const noAction = await samsa(['acls', '--bootstrap-server', bootstrap, '--topic', 'orders']);
  assert.equal(noAction.code, 2);
  assert.match(noAction.stderr, /exactly one action/);
  const badOp = await samsa([
    'acls',
    '--bootstrap-server',
    bootstrap,
    '--add',
    '--allow-principal',
    'User:bob',
    '--operation',
    'Read',
    '--group',
    'g',
    '--operation',
    'Write',
  ]);
  assert.equal(badOp.code, 2);
  assert.match(badOp.stderr, /ResourceType GROUP only supports operations ALL,READ,DESCRIBE,DELETE/);
});
