import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { apis, defaultFetchRequest } from '../../src/protocol/generated/index.js';
import { withTempDir } from '../storage/helpers.js';
import { MAIN, startedPort } from './cli.js';
import { RawClient } from './raw-client.js';

/** Fetch v4 with no partitions, min_bytes 1 and max_wait_ms 600,000: nothing can ever satisfy it. */
const EMPTY_LONG_POLL = Buffer.from(
  '0000002200010004000000020003726177ffffffff000927c000000001000003e80000000000',
  'hex',
);

// The timeout only ends a broken run (a broker that never exits); the test awaits the exit itself.
test('SIGTERM ends a broker while fetches long-poll, including one that names no partition', { timeout: 120_000 }, () =>
  withTempDir(async (dir) => {
    const props = join(dir, 'server.properties');
    await writeFile(props, `listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs=${join(dir, 'data')}\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', props], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const port = await startedPort(child);

    // A Fetch naming no partition is answered at once, as Kafka does: nothing could ever wake it.
    const empty = await RawClient.connect(port);
    empty.sendRaw(EMPTY_LONG_POLL);
    const answer = await empty.nextFrame();
    assert.equal(answer.readInt32BE(0), 2, 'the answer carries the request correlation id');

    // A long poll on a real partition is waiting when the stop comes.
    const polling = await RawClient.connect(port);
    await polling.request(apis.Metadata, 12, {
      topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'waiting' }],
      allowAutoTopicCreation: true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    const fetch = polling.request(apis.Fetch, 12, {
      ...defaultFetchRequest(),
      maxWaitMs: 600_000,
      minBytes: 1,
      topics: [
        {
          topic: 'waiting',
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
    fetch.catch(() => {});
    // Another round trip, so that the broker has read the fetch before the signal.
    const other = await RawClient.connect(port);
    await other.request(apis.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });

    child.kill('SIGTERM');
    assert.equal(await exited, 0, 'the broker exits once stopped');
    for (const c of [empty, polling, other]) c.close();
  }),
);
