import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const root = resolve(import.meta.dirname, '..', '..');
const specs = process.env['SAMSA_KAFKA_SPECS'] ?? resolve(root, '..', 'shared', 'kafka-protocol');
const committed = join(root, 'src', 'protocol', 'generated');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

test('the committed codecs are what the generator makes from the specs', {
  skip: !existsSync(join(specs, 'message')) && `no Kafka spec folder at ${specs} (set SAMSA_KAFKA_SPECS)`,
}, () => {
  const out = mkdtempSync(join(tmpdir(), 'samsa-generated-'));
  try {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(root, 'scripts', 'generate-protocol.ts'), specs, '--out', out],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(run.status, 0, run.stderr);
    const fresh = files(out)
      .map((f) => relative(out, f))
      .sort();
    const mine = files(committed)
      .map((f) => relative(committed, f))
      .sort();
    assert.deepEqual(mine, fresh, 'same files');
    for (const f of fresh) {
      assert.equal(
        readFileSync(join(committed, f), 'utf8'),
        readFileSync(join(out, f), 'utf8'),
        `${f} differs: run npm run generate`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
