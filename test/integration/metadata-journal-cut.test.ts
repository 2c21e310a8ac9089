import assert from 'node:assert/strict';
import { appendFile, readdir, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { EMBEDDED_METADATA_DIR, JOURNAL_FILE } from '../../src/cluster/embedded-metadata-store.js';
import { startBroker } from '../../src/index.js';
import { withTempDir } from '../storage/helpers.js';
import { createTopics } from './clients.js';

function kafka(bootstrap: string): Kafka {
  return new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
}

async function topicsOf(bootstrap: string): Promise<string[]> {
  const admin = kafka(bootstrap).admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).sort();
  } finally {
    await admin.disconnect();
  }
}

test('a metadata journal cut in its middle is refused naming the file; a torn last write is cut away and the broker starts', () =>
  withTempDir(async (dir) => {
    const first = await startBroker({ logDirs: [dir], autoCreateTopicsEnable: false });
    await createTopics(kafka(first.bootstrap), [{ topic: 'early', numPartitions: 1 }]);
    const journal = join(dir, EMBEDDED_METADATA_DIR, JOURNAL_FILE);
    const beforeLate = (await readFile(journal)).length;
    await createTopics(kafka(first.bootstrap), [{ topic: 'late', numPartitions: 1 }]);
    await first.stop();
    const lateEntryEnd = (await readFile(journal)).indexOf(0x0a, beforeLate) + 1;

    // A crash in the middle of the last append (never acknowledged): ignored (cut off before the next entry),
    // and the broker starts.
    await appendFile(journal, '{"revision":999,"events":[{"type":"put","key":"/to');
    const second = await startBroker({ logDirs: [dir], autoCreateTopicsEnable: false });
    assert.deepEqual(await topicsOf(second.bootstrap), ['early', 'late']);
    await second.stop();

    // The journal cut inside the entry that created `late`, whose log exists: acknowledged entries are lost.
    const cut = beforeLate + Math.floor((lateEntryEnd - beforeLate) / 2);
    await truncate(journal, cut);
    await assert.rejects(
      startBroker({ logDirs: [dir], autoCreateTopicsEnable: false }),
      (e: Error) => e.message.includes(journal) && e.message.includes(join(dir, 'late-0')),
    );
    assert.equal((await readFile(journal)).length, cut, 'a refused start leaves the journal as it found it');
    assert.ok((await readdir(dir)).includes('late-0'), 'and the log too');

    // The operator's way out: the file cut after its last whole line; `late` is then set aside, not deleted.
    await truncate(journal, beforeLate);
    const third = await startBroker({ logDirs: [dir], autoCreateTopicsEnable: false });
    assert.deepEqual(
      (await topicsOf(third.bootstrap)).filter((t) => !t.startsWith('__')),
      ['early'],
    );
    await third.stop();
    assert.ok((await readdir(dir)).some((name) => name.startsWith('late-0') && name.endsWith('-stray')));
  }));
