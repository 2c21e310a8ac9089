import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apis } from '../../src/protocol/generated/index.js';
import { defaultDescribeClusterRequest } from '../../src/protocol/generated/messages/describe-cluster-request.js';
import { defaultMetadataRequest } from '../../src/protocol/generated/messages/metadata-request.js';
import { withTempDir } from '../storage/helpers.js';
import { eventually, RawClient, startCluster, stopCluster } from './cluster-helpers.js';
import { etcdUnavailable, withEtcd } from './etcd.js';

async function describe(port: number) {
  const c = await RawClient.connect(port);
  try {
    const metadata = await c.request(apis.Metadata, 12, { ...defaultMetadataRequest(), topics: [] });
    const cluster = await c.request(apis.DescribeCluster, 1, defaultDescribeClusterRequest());
    return { metadata, cluster };
  } finally {
    c.close();
  }
}

test(
  'three brokers on etcd: each lists all three with their endpoints and racks, and names one controller; ' +
    'the controller killed with -9, another takes over and the dead one leaves the lists',
  { skip: etcdUnavailable },
  () =>
    withEtcd((etcd) =>
      withTempDir(async (dir) => {
        const brokers = await startCluster(etcd, dir, [1, 2, 3], { racks: { 1: 'r1', 2: 'r2', 3: 'r1' } });
        try {
          const expected = brokers.map((b) => ({
            nodeId: b.nodeId,
            host: '127.0.0.1',
            port: b.port,
            rack: b.nodeId === 2 ? 'r2' : 'r1',
          }));
          let controller = -1;
          for (const b of brokers) {
            const { metadata, cluster } = await eventually('all three brokers seen', async () => {
              const d = await describe(b.port);
              return d.metadata.brokers.length === 3 ? d : undefined;
            });
            assert.deepEqual(
              [...metadata.brokers].sort((x, y) => x.nodeId - y.nodeId),
              expected,
              `Metadata from broker ${b.nodeId}`,
            );
            assert.deepEqual(
              [...cluster.brokers]
                .sort((x, y) => x.brokerId - y.brokerId)
                .map((x) => ({ nodeId: x.brokerId, host: x.host, port: x.port, rack: x.rack })),
              expected,
              `DescribeCluster from broker ${b.nodeId}`,
            );
            assert.ok([1, 2, 3].includes(metadata.controllerId), `a controller is named: ${metadata.controllerId}`);
            assert.equal(cluster.controllerId, metadata.controllerId);
            if (controller === -1) controller = metadata.controllerId;
            assert.equal(metadata.controllerId, controller, 'every broker names the same controller');
          }

          const victim = brokers.find((b) => b.nodeId === controller)!;
          await victim.process.kill();
          const survivors = brokers.filter((b) => b !== victim);
          for (const b of survivors) {
            // Within the session timeout (9 s) the dead broker's lease expires; the wait here only guards a hang.
            const { metadata, cluster } = await eventually(`broker ${b.nodeId} sees a new controller`, async () => {
              const d = await describe(b.port);
              return d.metadata.controllerId !== controller &&
                d.metadata.controllerId !== -1 &&
                d.metadata.brokers.length === 2
                ? d
                : undefined;
            });
            assert.ok(
              survivors.some((s) => s.nodeId === metadata.controllerId),
              `the new controller ${metadata.controllerId} is a live broker`,
            );
            assert.equal(cluster.controllerId, metadata.controllerId);
            assert.deepEqual(
              metadata.brokers.map((x) => x.nodeId).sort(),
              survivors.map((s) => s.nodeId),
            );
          }
          const [a, b] = await Promise.all(survivors.map((s) => describe(s.port)));
          assert.equal(a!.metadata.controllerId, b!.metadata.controllerId, 'both survivors name the same controller');
        } finally {
          await stopCluster(brokers);
        }
      }),
    ),
);
