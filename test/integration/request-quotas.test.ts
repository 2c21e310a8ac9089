/**
 * Request quotas (KIP-124) and controller mutation quotas (KIP-599) from the outside. kafka-python sending
 * Metadata requests past its client id's request_percentage is told to wait (throttle_time_ms, at most one
 * window) and still answered; another client id is not. @platformatic/kafka's admin (CreateTopics v7,
 * CreatePartitions v3, DeleteTopics v6) gets THROTTLING_QUOTA_EXCEEDED for the topics past its
 * controller_mutation_rate, which are then neither created nor deleted, while kafka-python's admin (CreateTopics
 * v3, older than the error) has its topics created and is throttled instead. A fetch from a client over its
 * request_percentage is answered empty.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Admin, type ClientQuotaKeyValue } from '@platformatic/kafka';
import { type Broker, startBroker } from '../../src/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis, defaultFetchRequest } from '../../src/protocol/generated/index.js';
import { PYTHON } from './clients.js';
import { RawClient } from './raw-client.js';

const run = promisify(execFile);

let broker: Broker;
let admin: Admin;

before(async () => {
  broker = await startBroker({});
  admin = new Admin({ clientId: 'quota-admin', bootstrapBrokers: [broker.bootstrap] });
});

after(async () => {
  await admin?.close();
  await broker?.stop();
});

const clientId = (name: string) => [{ entityType: 'client-id' as const, entityName: name }];

async function setQuota(id: string, key: string, value: number): Promise<void> {
  // The library's type lists only the keys it knows of (not controller_mutation_rate); it sends any.
  const quotaKey = key as ClientQuotaKeyValue;
  const entries = await admin.alterClientQuotas({
    entries: [{ entities: clientId(id), ops: [{ key: quotaKey, value, remove: false }] }],
  });
  const entry = entries?.[0];
  assert.equal(entry?.errorCode, ErrorCode.NONE);
}

/** Sends Metadata v5 requests with this client id until one is throttled (or `count` are sent), then one more. */
async function metadataRequests(id: string, count: number): Promise<{ throttles: number[]; after: number }> {
  const script = `
import sys, json
from kafka.client_async import KafkaClient
from kafka.protocol.metadata import MetadataRequest
bootstrap, client_id, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = KafkaClient(bootstrap_servers=bootstrap, client_id=client_id, api_version=(2, 5))
node = c.least_loaded_node()
while not c.ready(node): c.poll(timeout_ms=100)
def send():
    f = c.send(node, MetadataRequest[5](topics=None, allow_auto_topic_creation=False))
    c.poll(future=f)
    if f.failed(): raise f.exception
    return f.value.throttle_time_ms
throttles = []
for i in range(count):
    throttles.append(send())
    if throttles[-1] > 0: break
print(json.dumps({'throttles': throttles, 'after': send()}))
c.close()
`;
  const { stdout } = await run(PYTHON, ['-c', script, broker.bootstrap, id, String(count)], { timeout: 120_000 });
  return JSON.parse(stdout) as { throttles: number[]; after: number };
}

test('request_percentage: a client over its share of request time is throttled, for at most a window, and still answered; another client id is not', async () => {
  // 0.01% of a second per second: a millisecond of request time over the ten seconds the rate covers at first.
  await setQuota('busy', 'request_percentage', 0.01);
  const busy = await metadataRequests('busy', 2000);
  const throttle = busy.throttles.at(-1)!;
  assert.ok(throttle > 0, `no throttle in ${busy.throttles.length} requests`);
  assert.ok(throttle <= 1000, `throttled ${throttle} ms, more than one window`);
  assert.ok(busy.after >= 0);
  const free = await metadataRequests('free', 300);
  assert.deepEqual(
    free.throttles.filter((t) => t > 0),
    [],
  );
  const described = await admin.describeClientQuotas({
    components: [{ entityType: 'client-id', matchType: 0, match: 'busy' }],
  });
  assert.deepEqual(described[0]?.values, [{ key: 'request_percentage', value: 0.01 }]);
});

/** The response a failed @platformatic/kafka admin call carried. */
function responseOf(e: unknown): Record<string, unknown> {
  const error = e as { errors?: Array<{ response?: Record<string, unknown> }>; response?: Record<string, unknown> };
  const response = error.errors?.[0]?.response ?? error.response;
  assert.ok(response, `no response in ${String(e)}`);
  return response;
}

async function topicNames(): Promise<string[]> {
  return (await admin.listTopics()).sort();
}

test('controller_mutation_rate, strict (CreateTopics v7, CreatePartitions v3, DeleteTopics v6): the topics past the quota get THROTTLING_QUOTA_EXCEEDED and are left as they were', async () => {
  // Half a partition a second: a burst of 5.5 (the rate over eleven one-second samples), then refusals. Slow, so
  // that the credits stay spent for the three refusals below (23 s) however long a loaded machine takes over them.
  await setQuota('mutator', 'controller_mutation_rate', 0.5);
  const mutator = new Admin({ clientId: 'mutator', bootstrapBrokers: [broker.bootstrap], retries: 0 });
  try {
    const started = Date.now();
    await mutator.createTopics({ topics: ['strict-a'], partitions: 5 });
    // Half a credit left: strict-b takes it below zero and passes, strict-c finds it spent.
    const refused = await mutator
      .createTopics({ topics: ['strict-b', 'strict-c'], partitions: 12 })
      .then(() => assert.fail('strict-c was created'), responseOf);
    const results = refused.topics as Array<{ name: string; errorCode: number; errorMessage: string | null }>;
    assert.deepEqual(
      results.map((t) => [t.name, t.errorCode]),
      [
        ['strict-b', ErrorCode.NONE],
        ['strict-c', ErrorCode.THROTTLING_QUOTA_EXCEEDED],
      ],
    );
    assert.equal(results[1]!.errorMessage, 'The throttling quota has been exceeded.');
    // 11.5 credits short at half a credit a second: 23 s to wait, less what refilled since the first request (a
    // credit per two seconds), which a loaded machine makes long.
    const throttle = refused.throttleTimeMs as number;
    const elapsed = Date.now() - started;
    assert.ok(throttle >= 23_000 - elapsed && throttle <= 23_000, `throttle ${throttle} after ${elapsed} ms`);
    // The muted connection would find the credits back at zero after its wait; a second connection of the same
    // client id shares the bucket and finds it still spent.
    const second = new Admin({ clientId: 'mutator', bootstrapBrokers: [broker.bootstrap], retries: 0 });
    const partitions = await second
      .createPartitions({ topics: [{ name: 'strict-a', count: 6 }] })
      .then(() => assert.fail('partitions added past the quota'), responseOf);
    assert.deepEqual(
      (partitions.results as Array<{ errorCode: number }>).map((r) => r.errorCode),
      [ErrorCode.THROTTLING_QUOTA_EXCEEDED],
    );
    const third = new Admin({ clientId: 'mutator', bootstrapBrokers: [broker.bootstrap], retries: 0 });
    const deleted = await third
      .deleteTopics({ topics: ['strict-b'] })
      .then(() => assert.fail('a topic deleted past the quota'), responseOf);
    assert.deepEqual(
      (deleted.responses as Array<{ errorCode: number }>).map((r) => r.errorCode),
      [ErrorCode.THROTTLING_QUOTA_EXCEEDED],
    );
    await Promise.all([second.close(), third.close()]);
  } finally {
    await mutator.close();
  }
  assert.deepEqual(
    (await topicNames()).filter((t) => t.startsWith('strict-')),
    ['strict-a', 'strict-b'],
  );
  const meta = await admin.metadata({ topics: ['strict-a'] });
  assert.equal(meta.topics.get('strict-a')?.partitionsCount, 5);
  // Another client id has no quota: the same work passes.
  const other = new Admin({ clientId: 'other-admin', bootstrapBrokers: [broker.bootstrap], retries: 0 });
  try {
    await other.createTopics({ topics: ['free-a', 'free-b'], partitions: 20 });
    await other.deleteTopics({ topics: ['free-a', 'free-b'] });
  } finally {
    await other.close();
  }
});

test('controller_mutation_rate, permissive (kafka-python, CreateTopics v3): the topics are created and the answer says how long to wait', async () => {
  await setQuota('old-admin', 'controller_mutation_rate', 2);
  const script = `
import sys, json, time
from kafka.admin import KafkaAdminClient, NewTopic
a = KafkaAdminClient(bootstrap_servers=sys.argv[1], client_id='old-admin')
out = []
for name, n in (('permissive-a', 20), ('permissive-b', 5)):
    sent = time.monotonic()
    r = a.create_topics([NewTopic(name, n, 1)])
    out.append({'version': r.API_VERSION, 'throttle': r.throttle_time_ms, 'errors': [e[1] for e in r.topic_errors],
                'sent': sent, 'answered': time.monotonic()})
a.close()
print(json.dumps(out))
`;
  const { stdout } = await run(PYTHON, ['-c', script, broker.bootstrap], { timeout: 60_000 });
  const [first, second] = JSON.parse(stdout) as Array<{
    version: number;
    throttle: number;
    errors: number[];
    sent: number;
    answered: number;
  }>;
  const between = Math.ceil((second!.answered - first!.sent) * 1000);
  assert.ok(first!.version < 6, `CreateTopics v${first!.version}`);
  assert.deepEqual([first!.throttle, first!.errors], [0, [ErrorCode.NONE]]);
  // 2 credits left, 5 taken: 3 short at two a second, so 1.5 s to wait, less what refilled between the two
  // requests (a credit per half second), which on a loaded machine is hundreds of milliseconds.
  assert.deepEqual(second!.errors, [ErrorCode.NONE]);
  assert.ok(second!.throttle >= 1500 - between && second!.throttle <= 1500, `throttle ${second!.throttle}`);
  const names = await topicNames();
  assert.ok(names.includes('permissive-a') && names.includes('permissive-b'));
});

test('a fetch from a client over its request_percentage is answered empty with the time to wait, as Kafka answers it', async () => {
  // A quota so small that one request takes the client far over it, so that it still is after its wait.
  await setQuota('raw-test', 'request_percentage', 0.0001);
  await run('sh', ['-c', 'echo kept | kcat -b "$1" -P -t throttled-fetch', 'sh', broker.bootstrap], {
    timeout: 30_000,
  });
  const client = await RawClient.connect(broker.port);
  try {
    const metadata = await client.request(apis.Metadata, 12, {
      topics: [{ name: 'throttled-fetch', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    assert.ok(metadata.throttleTimeMs > 0, 'the first request is over the quota');
    const fetch = await client.request(apis.Fetch, 12, {
      ...defaultFetchRequest(),
      maxWaitMs: 0,
      maxBytes: 1 << 20,
      topics: [
        {
          topic: 'throttled-fetch',
          topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
          partitions: [
            {
              partition: 0,
              currentLeaderEpoch: -1,
              fetchOffset: 0n,
              lastFetchedEpoch: -1,
              logStartOffset: -1n,
              partitionMaxBytes: 1 << 20,
              replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
            },
          ],
        },
      ],
    });
    assert.ok(fetch.throttleTimeMs > 0);
    assert.deepEqual(fetch.responses, []);
  } finally {
    client.close();
  }
});
