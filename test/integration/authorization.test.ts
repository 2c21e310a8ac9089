import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { parseBrokerConfig, resolveListeners, toBrokerSettings } from '../../src/config/broker-config.js';
import { type Broker, startBroker } from '../../src/index.js';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, logLevel, ResourcePatternTypes } = kafkajs;

const PASSWORDS = { admin: 'admin-secret', alice: 'alice-secret', bob: 'bob-secret' } as const;
type User = keyof typeof PASSWORDS;
const JAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required ${Object.entries(PASSWORDS)
  .map(([u, p]) => `user_${u}="${p}"`)
  .join(' ')};`;

/** A broker with a SASL_PLAINTEXT listener (PLAIN users admin, alice, bob), Kafka's authorizer and admin as super user. */
const PROPERTIES: Record<string, string> = {
  listeners: 'SASL_PLAINTEXT://127.0.0.1:0',
  'listener.security.protocol.map': 'SASL_PLAINTEXT:SASL_PLAINTEXT',
  'sasl.enabled.mechanisms': 'PLAIN',
  'listener.name.sasl_plaintext.plain.sasl.jaas.config': JAAS,
  'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
  'super.users': 'User:admin',
};

let dir: string;
let broker: Broker;

async function start(): Promise<Broker> {
  const values = parseBrokerConfig(new Map(Object.entries(PROPERTIES))).values;
  const settings = toBrokerSettings(values);
  return startBroker({
    listeners: resolveListeners(values),
    host: '127.0.0.1',
    logDirs: [dir],
    authorizer: settings.authorizer,
    staticConfigs: PROPERTIES,
  });
}

function kafka(user: User, retries = 0): kafkajs.Kafka {
  const port = broker.settings.listeners![0]!.port;
  return new Kafka({
    clientId: `authz-${user}`,
    brokers: [`127.0.0.1:${port}`],
    logLevel: process.env.AUTHZ_DEBUG ? logLevel.DEBUG : logLevel.NOTHING,
    retry: { retries },
    sasl: { mechanism: 'plain', username: user, password: PASSWORDS[user] },
  });
}

async function withAdmin<T>(user: User, f: (admin: kafkajs.Admin) => Promise<T>): Promise<T> {
  const admin = kafka(user).admin();
  await admin.connect();
  try {
    return await f(admin);
  } finally {
    await admin.disconnect();
  }
}

function topicAcl(
  name: string,
  operation: kafkajs.AclOperationTypes,
  permissionType: kafkajs.AclPermissionTypes = AclPermissionTypes.ALLOW,
  patternType: kafkajs.ResourcePatternTypes = ResourcePatternTypes.LITERAL,
  principal = 'User:bob',
): kafkajs.AclEntry {
  return {
    resourceType: AclResourceTypes.TOPIC,
    resourceName: name,
    resourcePatternType: patternType,
    principal,
    host: '*',
    operation,
    permissionType,
  };
}

/** Sends one record as `user`; resolves to the error type Kafka answered, or 'ok'. */
async function produce(user: User, topic: string, value: string): Promise<string> {
  const producer = kafka(user).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ value }], acks: -1 });
    return 'ok';
  } catch (e) {
    const err = e as Error & { type?: string; cause?: { type?: string } };
    return err.type ?? err.cause?.type ?? err.name;
  } finally {
    await producer.disconnect();
  }
}

/** The high watermark of partition 0, as the super user sees it. */
async function endOffset(topic: string): Promise<string> {
  return withAdmin('admin', async (admin) => (await admin.fetchTopicOffsets(topic))[0]!.high);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'samsa-authz-'));
  broker = await start();
  await withAdmin('admin', (admin) =>
    admin.createTopics({
      topics: ['orders', 'payments-eu', 'payments-secret', 'secret'].map((topic) => ({ topic, numPartitions: 1 })),
    }),
  );
});

after(async () => {
  await broker?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('without an ACL bob cannot write; a WRITE ACL created by the super user lets him; nothing is written before', async () => {
  assert.equal(await produce('bob', 'orders', 'refused'), 'TOPIC_AUTHORIZATION_FAILED');
  // With DESCRIBE only the refusal comes from Produce itself, not from Metadata.
  await withAdmin('admin', (admin) => admin.createAcls({ acl: [topicAcl('orders', AclOperationTypes.DESCRIBE)] }));
  assert.equal(await produce('bob', 'orders', 'refused'), 'TOPIC_AUTHORIZATION_FAILED');
  assert.equal(await endOffset('orders'), '0', 'nothing written');

  await withAdmin('admin', (admin) => admin.createAcls({ acl: [topicAcl('orders', AclOperationTypes.WRITE)] }));
  assert.equal(await produce('bob', 'orders', 'accepted'), 'ok');
  assert.equal(await endOffset('orders'), '1');
});

test('alice, not a super user and without ACLs, may neither create nor list ACLs', async () => {
  await withAdmin('alice', async (admin) => {
    await assert.rejects(
      admin.createAcls({
        acl: [
          topicAcl(
            'orders',
            AclOperationTypes.ALL,
            AclPermissionTypes.ALLOW,
            ResourcePatternTypes.LITERAL,
            'User:alice',
          ),
        ],
      }),
      (e: Error & { type?: string }) => e.type === 'CLUSTER_AUTHORIZATION_FAILED',
    );
    await assert.rejects(
      admin.describeAcls({
        resourceType: AclResourceTypes.ANY,
        resourcePatternType: ResourcePatternTypes.ANY,
        operation: AclOperationTypes.ANY,
        permissionType: AclPermissionTypes.ANY,
      }),
      (e: Error & { type?: string }) => e.type === 'CLUSTER_AUTHORIZATION_FAILED',
    );
  });
  assert.equal(await produce('alice', 'orders', 'refused'), 'TOPIC_AUTHORIZATION_FAILED');
});

test('a prefixed ALLOW covers the topics under it, and a DENY beats it', async () => {
  await withAdmin('admin', (admin) =>
    admin.createAcls({
      acl: [
        topicAcl('payments-', AclOperationTypes.WRITE, AclPermissionTypes.ALLOW, ResourcePatternTypes.PREFIXED),
        topicAcl('payments-secret', AclOperationTypes.WRITE, AclPermissionTypes.DENY),
      ],
    }),
  );
  assert.equal(await produce('bob', 'payments-eu', 'eu'), 'ok');
  assert.equal(await produce('bob', 'payments-secret', 'no'), 'TOPIC_AUTHORIZATION_FAILED');
  assert.equal(await endOffset('payments-secret'), '0');
});

test('Metadata lists only the topics the principal may describe', async () => {
  const names = async (user: User) =>
    withAdmin(user, async (admin) => (await admin.fetchTopicMetadata()).topics.map((t) => t.name).sort());
  // WRITE implies DESCRIBE; a DENY of WRITE does not deny DESCRIBE.
  assert.deepEqual(await names('bob'), ['orders', 'payments-eu', 'payments-secret']);
  assert.deepEqual(await names('alice'), []);
  assert.deepEqual(await names('admin'), ['orders', 'payments-eu', 'payments-secret', 'secret']);
});

test('consuming with a group needs READ on the topic and on the group', async () => {
  await withAdmin('admin', (admin) => admin.createAcls({ acl: [topicAcl('orders', AclOperationTypes.READ)] }));
  const consume = async (): Promise<string> => {
    const consumer = kafka('bob', 5).consumer({ groupId: 'bob-group' });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: 'orders', fromBeginning: true });
      return await new Promise<string>((resolve) => {
        consumer.on(consumer.events.CRASH, (event) => {
          const e = event.payload.error as Error & { type?: string };
          resolve(e.type ?? e.name);
        });
        void consumer.run({ eachMessage: async ({ message }) => resolve(`read ${message.value}`) });
      });
    } finally {
      await consumer.disconnect();
    }
  };
  const groupAcl = (operation: kafkajs.AclOperationTypes, name: string, patternType: kafkajs.ResourcePatternTypes) => ({
    resourceType: AclResourceTypes.GROUP,
    resourceName: name,
    resourcePatternType: patternType,
    principal: 'User:bob',
    host: '*',
    operation,
    permissionType: AclPermissionTypes.ALLOW,
  });
  // FindCoordinator needs DESCRIBE on the group; KafkaJS reports its GROUP_AUTHORIZATION_FAILED as not found.
  assert.equal(await consume(), 'KafkaJSGroupCoordinatorNotFound');
  // DESCRIBE does not imply READ: JoinGroup is refused.
  await withAdmin('admin', (admin) =>
    admin.createAcls({ acl: [groupAcl(AclOperationTypes.DESCRIBE, 'bob-group', ResourcePatternTypes.LITERAL)] }),
  );
  assert.equal(await consume(), 'GROUP_AUTHORIZATION_FAILED');
  await withAdmin('admin', (admin) =>
    admin.createAcls({
      acl: [
        {
          resourceType: AclResourceTypes.GROUP,
          resourceName: 'bob-',
          resourcePatternType: ResourcePatternTypes.PREFIXED,
          principal: 'User:bob',
          host: '*',
          operation: AclOperationTypes.READ,
          permissionType: AclPermissionTypes.ALLOW,
        },
      ],
    }),
  );
  assert.equal(await consume(), 'read accepted');
});

test('ACLs survive a restart, are described, and DeleteAcls removes them', async () => {
  await broker.stop();
  broker = await start();
  assert.equal(await produce('bob', 'orders', 'after restart'), 'ok');

  const described = await withAdmin('admin', (admin) =>
    admin.describeAcls({
      resourceType: AclResourceTypes.TOPIC,
      resourceName: 'orders',
      resourcePatternType: ResourcePatternTypes.LITERAL,
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    }),
  );
  assert.deepEqual(
    described.resources.map((r) => [r.resourceName, r.acls.map((a) => a.operation).sort()]),
    [['orders', [AclOperationTypes.WRITE, AclOperationTypes.READ, AclOperationTypes.DESCRIBE].sort()]],
  );

  const deleted = await withAdmin('admin', (admin) =>
    admin.deleteAcls({
      filters: [
        {
          resourceType: AclResourceTypes.TOPIC,
          resourceName: 'orders',
          resourcePatternType: ResourcePatternTypes.LITERAL,
          principal: 'User:bob',
          host: '*',
          operation: AclOperationTypes.WRITE,
          permissionType: AclPermissionTypes.ALLOW,
        },
      ],
    }),
  );
  assert.deepEqual(
    deleted.filterResponses.map((f) => [f.errorCode, f.matchingAcls.map((a) => a.resourceName)]),
    [[0, ['orders']]],
  );
  assert.equal(await produce('bob', 'orders', 'refused again'), 'TOPIC_AUTHORIZATION_FAILED');

  // The deletion is in the store too.
  await broker.stop();
  broker = await start();
  assert.equal(await produce('bob', 'orders', 'refused after restart'), 'TOPIC_AUTHORIZATION_FAILED');
  assert.equal(await produce('bob', 'payments-eu', 'still allowed'), 'ok');
});
