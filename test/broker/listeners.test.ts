import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { RawClient } from '../integration/raw-client.js';
import { findCoordinator } from './raw-clients.js';

test('Metadata, FindCoordinator and DescribeCluster answer with the listener the request came in on', async () => {
  const broker = await startBroker({
    listeners: [
      { name: 'INTERNAL', host: '127.0.0.1', port: 0, advertisedHost: 'internal.example', advertisedPort: 0 },
      { name: 'EXTERNAL', host: '127.0.0.1', port: 0, advertisedHost: 'external.example', advertisedPort: 29092 },
    ],
  });
  try {
    const [internal, external] = broker.settings.listeners!;
    assert.notEqual(internal!.port, external!.port);
    for (const [listener, host, port] of [
      [internal!, 'internal.example', internal!.port],
      [external!, 'external.example', 29092],
    ] as const) {
      const client = await RawClient.connect(listener.port);
      try {
        const metadata = await client.request(apis.Metadata, 12, {
          topics: [],
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        });
        assert.deepEqual(
          metadata.brokers.map((b) => [b.host, b.port]),
          [[host, port]],
          listener.name,
        );
        const coordinator = await findCoordinator(client, 'g');
        assert.deepEqual([coordinator.host, coordinator.port], [host, port], listener.name);
        const cluster = await client.request(apis.DescribeCluster, 0, {
          includeClusterAuthorizedOperations: false,
          endpointType: 1,
        });
        assert.deepEqual(
          cluster.brokers.map((b) => [b.host, b.port]),
          [[host, port]],
          listener.name,
        );
      } finally {
        client.close();
      }
    }
  } finally {
    await broker.stop();
  }
});
