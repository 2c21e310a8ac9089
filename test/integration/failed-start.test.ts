import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startBroker } from '../../src/index.js';
import { withTempDir } from '../storage/helpers.js';

const openFiles = () => readdirSync('/proc/self/fd').length;

test('a start refused over meta.properties closes every file it opened', async () => {
  await withTempDir(async (dir) => {
    const first = await startBroker({ logDirs: [dir] });
    await first.stop();
    // Another node's meta.properties: the start opens the metadata store, then refuses.
    await writeFile(join(dir, 'meta.properties'), 'version=1\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\nnode.id=99\n');
    const before = openFiles();
    await assert.rejects(startBroker({ logDirs: [dir] }));
    assert.equal(openFiles(), before, 'no file descriptor is left open by the refused start');
  });
});
