// biome-ignore-all lint/suspicious/noExplicitAny: the API's JSON answers are checked field by field by the assertions
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Consumer, stringDeserializers } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { type Broker, startBroker } from '../../src/broker/broker.js';

const { CompressionTypes, Kafka, logLevel } = kafkajs;

/** A call of the console's API as the page makes it: JSON, with the console's header on changes. */
async function api(
  broker: Broker,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { 'x-samsa-console': '1' },
): Promise<{ status: number; body: any }> {
  const response = await fetch(`http://127.0.0.1:${broker.httpPort}${path}`, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

/** Polls the API until `check` accepts its answer (the group's commit lands after the consumer's fetch). */
async function until(broker: Broker, path: string, check: (body: any) => boolean): Promise<any> {
  for (;;) {
    const { body } = await api(broker, 'GET', path);
    if (check(body)) return body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('console API: topics, configs, messages by offset and time in three formats, groups with lag and reset', async () => {
  const broker = await startBroker({
    httpListener: { host: '127.0.0.1', port: 0 },
    groups: { offsetsTopicNumPartitions: 1 },
  });
  const kafka = new Kafka({ clientId: 'console-api-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: 'console-group', maxWaitTimeInMs: 100 });
  try {
    const cluster = await api(broker, 'GET', '/api/cluster');
    assert.equal(cluster.status, 200);
    assert.equal(cluster.body.clusterId, broker.clusterId);
    assert.equal(cluster.body.readOnly, false);
    assert.deepEqual(cluster.body.brokers, [{ nodeId: 0, host: '127.0.0.1', port: broker.port, rack: null }]);

    // Created through CreateTopics: Kafka's checks and errors.
    assert.equal((await api(broker, 'POST', '/api/topics', { name: 'orders', partitions: 2 })).status, 201);
    const again = await api(broker, 'POST', '/api/topics', { name: 'orders', partitions: 2 });
    assert.deepEqual([again.status, again.body.error], [409, 'TOPIC_ALREADY_EXISTS']);
    const badConfig = await api(broker, 'POST', '/api/topics', { name: 'x', configs: { 'retention.ms': 'soon' } });
    assert.deepEqual([badConfig.status, badConfig.body.error], [400, 'INVALID_CONFIG']);
    const badName = await api(broker, 'POST', '/api/topics', { name: 'no spaces' });
    assert.deepEqual([badName.status, badName.body.error], [400, 'INVALID_TOPIC_EXCEPTION']);

    // Configs: set, described as the topic's override, then removed again.
    assert.equal(
      (await api(broker, 'PUT', '/api/topics/orders/configs/retention.ms', { value: '3600000' })).status,
      200,
    );
    let described = await api(broker, 'GET', '/api/topics/orders');
    const retention = () => described.body.configs.find((c: any) => c.name === 'retention.ms');
    assert.deepEqual([retention().value, retention().source], ['3600000', 'DYNAMIC_TOPIC_CONFIG']);
    const badValue = await api(broker, 'PUT', '/api/topics/orders/configs/retention.ms', { value: 'x' });
    assert.deepEqual([badValue.status, badValue.body.error], [400, 'INVALID_CONFIG']);
    assert.equal((await api(broker, 'PUT', '/api/topics/orders/configs/retention.ms', { value: null })).status, 200);
    described = await api(broker, 'GET', '/api/topics/orders');
    assert.deepEqual([retention().value, retention().source], ['604800000', 'DEFAULT_CONFIG']);

    await producer.connect();
    await producer.send({
      topic: 'orders',
      messages: [
        { partition: 0, key: 'k1', value: '{"amount":1}', headers: { origin: 'web' }, timestamp: '1000' },
        { partition: 0, key: null, value: 'plain', timestamp: '2000' },
        { partition: 0, key: 'k3', value: Buffer.from([0xff, 0x00, 0x41]), timestamp: '3000' },
      ],
    });
    described = await api(broker, 'GET', '/api/topics/orders');
    const p0 = described.body.partitions[0];
    assert.deepEqual([p0.partition, p0.leader, p0.logStartOffset, p0.highWatermark], [0, 0, 0, 3]);
    assert.ok(p0.sizeBytes > 0);
    const listed = await api(broker, 'GET', '/api/topics');
    assert.deepEqual(
      listed.body.topics.find((t: any) => t.name === 'orders'),
      {
        name: 'orders',
        id: described.body.id,
        internal: false,
        partitionCount: 2,
        replicationFactor: 1,
        offsetSpan: 3,
        sizeBytes: p0.sizeBytes,
      },
    );

    const text = await api(broker, 'GET', '/api/topics/orders/partitions/0/records?offset=0');
    assert.equal(text.status, 200);
    assert.deepEqual(
      text.body.records.map((r: any) => [r.offset, r.timestamp, r.key.shown, r.value.shown]),
      [
        [0, 1000, 'k1', '{"amount":1}'],
        [1, 2000, null, 'plain'],
        [2, 3000, 'k3', '\ufffd\u0000A'],
      ],
    );
    assert.deepEqual(text.body.records[0].headers, [
      { key: 'origin', value: { shown: 'web', size: 3, truncated: false, format: 'text' } },
    ]);
    assert.equal(text.body.nextOffset, 3);
    const json = await api(broker, 'GET', '/api/topics/orders/partitions/0/records?offset=0&format=json&limit=2');
    assert.deepEqual(
      json.body.records.map((r: any) => [r.value.shown, r.value.format]),
      [
        ['{\n  "amount": 1\n}', 'json'],
        ['plain', 'text'],
      ],
    );
    assert.equal(json.body.nextOffset, 2);
    const hex = await api(broker, 'GET', '/api/topics/orders/partitions/0/records?offset=2&format=hex');
    assert.deepEqual(hex.body.records[0].value, { shown: 'ff 00 41', size: 3, truncated: false, format: 'hex' });
    const cut = await api(broker, 'GET', '/api/topics/orders/partitions/0/records?offset=0&maxBytes=4');
    assert.deepEqual(cut.body.records[0].value, { shown: '{"am', size: 12, truncated: true, format: 'text' });
    const byTime = await api(broker, 'GET', '/api/topics/orders/partitions/0/records?timestamp=1500');
    assert.deepEqual(
      byTime.body.records.map((r: any) => r.offset),
      [1, 2],
    );
    const nowhere = await api(broker, 'GET', '/api/topics/orders/partitions/7/records');
    assert.equal(nowhere.status, 404);
    const badFormat = await api(broker, 'GET', '/api/topics/orders/partitions/0/records?format=xml');
    assert.equal(badFormat.status, 400);

    // A group consumes and commits: lag 0; while it is active no reset; once it left, back to earliest: lag 3.
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    await consumer.run({ eachMessage: async () => {} });
    let group = await until(broker, '/api/groups/console-group', (g) =>
      g.offsets?.some((o: any) => o.partition === 0 && o.committedOffset === 3),
    );
    assert.equal(group.state, 'Stable');
    assert.equal(group.members.length, 1);
    assert.deepEqual(group.members[0].assignment, [{ topic: 'orders', partitions: [0, 1] }]);
    assert.equal(group.offsets.find((o: any) => o.partition === 0).lag, 0);
    const active = await api(broker, 'POST', '/api/groups/console-group/offsets', { topic: 'orders', to: 'earliest' });
    assert.deepEqual([active.status, active.body.error], [409, 'NON_EMPTY_GROUP']);
    await consumer.disconnect();
    const reset = await api(broker, 'POST', '/api/groups/console-group/offsets', { topic: 'orders', to: 'earliest' });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    group = (await api(broker, 'GET', '/api/groups/console-group')).body;
    assert.equal(group.state, 'Empty');
    assert.deepEqual(
      group.offsets.map((o: any) => [o.partition, o.committedOffset, o.lag]),
      [
        [0, 0, 3],
        [1, 0, 0],
      ],
    );
    const groups = await api(broker, 'GET', '/api/groups');
    assert.deepEqual(groups.body.groups, [
      { groupId: 'console-group', type: 'classic', state: 'Empty', protocolType: 'consumer', lag: 3 },
    ]);
    const toOffset = await api(broker, 'POST', '/api/groups/console-group/offsets', { to: 'offset', offset: 99 });
    assert.deepEqual(toOffset.body.offsets, [
      { topic: 'orders', partition: 0, offset: 3 },
      { topic: 'orders', partition: 1, offset: 0 },
    ]);

    const throughput = await api(broker, 'GET', '/api/throughput');
    assert.equal(throughput.body.messagesIn, 3);
    assert.ok(throughput.body.bytesOut > 0);

    assert.equal((await api(broker, 'DELETE', '/api/topics/orders')).status, 200);
    assert.equal((await api(broker, 'GET', '/api/topics/orders')).status, 404);
    const gone = await api(broker, 'DELETE', '/api/topics/orders');
    assert.deepEqual([gone.status, gone.body.error], [404, 'UNKNOWN_TOPIC_OR_PARTITION']);
  } finally {
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    await broker.stop();
  }
});

test('console API message browser: compressed batches are read, transaction markers are not shown as records', async () => {
  const broker = await startBroker({
    httpListener: { host: '127.0.0.1', port: 0 },
    transactions: { stateLogNumPartitions: 1 },
  });
  const kafka = new Kafka({ clientId: 'console-browse', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ transactionalId: 'console-tx', idempotent: true, maxInFlightRequests: 1 });
  try {
    assert.equal((await api(broker, 'POST', '/api/topics', { name: 'tx', partitions: 1 })).status, 201);
    await producer.connect();
    await producer.send({
      topic: 'tx',
      compression: CompressionTypes.GZIP,
      messages: [{ key: 'a', value: 'zipped-1' }, { value: 'zipped-2' }],
    });
    const committed = await producer.transaction();
    await committed.send({ topic: 'tx', messages: [{ value: 'in-transaction' }] });
    await committed.commit();
    await producer.send({ topic: 'tx', messages: [{ value: 'after' }] });
    // Offsets: 0-1 gzip batch, 2 transactional record, 3 its commit marker, 4 a plain record.
    const page = await api(broker, 'GET', '/api/topics/tx/partitions/0/records?offset=0');
    assert.deepEqual(
      page.body.records.map((r: any) => [r.offset, r.value.shown]),
      [
        [0, 'zipped-1'],
        [1, 'zipped-2'],
        [2, 'in-transaction'],
        [4, 'after'],
      ],
    );
    assert.equal(page.body.nextOffset, 5);
    // A page starting on the marker moves past it.
    const fromMarker = await api(broker, 'GET', '/api/topics/tx/partitions/0/records?offset=3');
    assert.deepEqual(
      fromMarker.body.records.map((r: any) => r.offset),
      [4],
    );
    // A page of one record says where the next one starts.
    const one = await api(broker, 'GET', '/api/topics/tx/partitions/0/records?offset=1&limit=1');
    assert.deepEqual([one.body.records.length, one.body.nextOffset], [1, 2]);
  } finally {
    await producer.disconnect().catch(() => {});
    await broker.stop();
  }
});

test('console API: a KIP-848 consumer group with its member, assignment and lag, reset once it is empty', async () => {
  const broker = await startBroker({
    httpListener: { host: '127.0.0.1', port: 0 },
    groups: { offsetsTopicNumPartitions: 1, consumerHeartbeatIntervalMs: 200 },
  });
  const kafka = new Kafka({ clientId: 'console-kip848', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  const consumer = new Consumer({
    groupId: 'kip848-group',
    groupProtocol: 'consumer',
    clientId: 'kip848-member',
    bootstrapBrokers: [broker.bootstrap],
    deserializers: stringDeserializers,
  });
  let stream: { close(): Promise<void> } | null = null;
  try {
    assert.equal((await api(broker, 'POST', '/api/topics', { name: 'events', partitions: 1 })).status, 201);
    await producer.connect();
    await producer.send({ topic: 'events', messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    stream = await consumer.consume({ topics: ['events'], mode: 'earliest', autocommit: true, maxWaitTime: 200 });
    (stream as unknown as NodeJS.EventEmitter).on('data', () => {});
    const group = await until(broker, '/api/groups/kip848-group', (g) =>
      g.offsets?.some((o: any) => o.committedOffset === 3),
    );
    assert.equal(group.type, 'consumer');
    assert.equal(group.state, 'Stable');
    assert.deepEqual(
      group.members.map((m: any) => [m.clientId, m.assignment]),
      [['kip848-member', [{ topic: 'events', partitions: [0] }]]],
    );
    assert.deepEqual(
      group.offsets.map((o: any) => [o.partition, o.committedOffset, o.lag, o.memberId]),
      [[0, 3, 0, consumer.memberId]],
    );
    const active = await api(broker, 'POST', '/api/groups/kip848-group/offsets', { to: 'earliest' });
    assert.deepEqual([active.status, active.body.error], [409, 'NON_EMPTY_GROUP']);
    await stream.close();
    await consumer.close();
    await until(broker, '/api/groups/kip848-group', (g) => g.state === 'Empty');
    const reset = await api(broker, 'POST', '/api/groups/kip848-group/offsets', { to: 'earliest' });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    const after = (await api(broker, 'GET', '/api/groups/kip848-group')).body;
    assert.deepEqual(
      after.offsets.map((o: any) => [o.committedOffset, o.lag]),
      [[0, 3]],
    );
  } finally {
    await stream?.close().catch(() => {});
    await consumer.close().catch(() => {});
    await producer.disconnect().catch(() => {});
    await broker.stop();
  }
});

test('console API: changes need the console header and JSON and are refused from another origin', async () => {
  const broker = await startBroker({ httpListener: { host: '127.0.0.1', port: 0 } });
  try {
    const noHeader = await api(broker, 'POST', '/api/topics', { name: 'a' }, {});
    assert.deepEqual([noHeader.status, noHeader.body.error], [403, 'CROSS_SITE_REQUEST']);
    const otherSite = await api(
      broker,
      'POST',
      '/api/topics',
      { name: 'a' },
      {
        'x-samsa-console': '1',
        origin: 'https://evil.example',
      },
    );
    assert.deepEqual([otherSite.status, otherSite.body.error], [403, 'CROSS_SITE_REQUEST']);
    // A form's body is not JSON.
    const form = await fetch(`http://127.0.0.1:${broker.httpPort}/api/topics`, {
      method: 'POST',
      headers: { 'x-samsa-console': '1', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=a',
    });
    assert.equal(form.status, 415);
    const huge = await api(broker, 'POST', '/api/topics', { name: 'a', pad: 'x'.repeat(100_000) });
    assert.equal(huge.status, 413);
    assert.equal((await api(broker, 'GET', '/api/topics/a')).status, 404);
    const sameSite = await api(
      broker,
      'POST',
      '/api/topics',
      { name: 'a' },
      {
        'x-samsa-console': '1',
        origin: `http://127.0.0.1:${broker.httpPort}`,
      },
    );
    assert.equal(sameSite.status, 201);
    const wrongMethod = await api(broker, 'PATCH', '/api/topics');
    assert.equal(wrongMethod.status, 405);
    assert.equal((await api(broker, 'GET', '/api/nothing')).status, 404);
  } finally {
    await broker.stop();
  }
});

test('console API in read-only mode: reads answer, every change is 403', async () => {
  const broker = await startBroker({ httpListener: { host: '127.0.0.1', port: 0 }, consoleReadOnly: true });
  try {
    assert.equal((await api(broker, 'GET', '/api/cluster')).body.readOnly, true);
    assert.equal((await api(broker, 'GET', '/api/topics')).status, 200);
    for (const [method, path, body] of [
      ['POST', '/api/topics', { name: 'a' }],
      ['DELETE', '/api/topics/a', undefined],
      ['PUT', '/api/topics/a/configs/retention.ms', { value: '1' }],
      ['POST', '/api/groups/g/offsets', { to: 'earliest' }],
    ] as const) {
      const refused = await api(broker, method, path, body);
      assert.deepEqual([refused.status, refused.body.error], [403, 'READ_ONLY'], `${method} ${path}`);
    }
    assert.equal((await api(broker, 'GET', '/api/topics/a')).status, 404);
  } finally {
    await broker.stop();
  }
});

test('with an authorizer the console API is off (it has no login), while /metrics still answers', async () => {
  const broker = await startBroker({
    httpListener: { host: '127.0.0.1', port: 0 },
    authorizer: { superUsers: new Set(), allowEveryoneIfNoAclFound: true },
  });
  try {
    for (const [method, path, body] of [
      ['GET', '/api/topics', undefined],
      ['POST', '/api/topics', { name: 'sneaky', partitions: 1 }],
    ] as const) {
      const answer = await api(broker, method, path, body);
      assert.equal(answer.status, 403, `${method} ${path}`);
      assert.equal(answer.body.error, 'CONSOLE_DISABLED');
    }
    const metrics = await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`);
    assert.equal(metrics.status, 200);
  } finally {
    await broker.stop();
  }
});
