import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  apiByKey,
  decodeRequestHeader,
  encodeRequestHeader,
  requestHeaderVersion,
} from '../../src/protocol/generated/index.js';
import { Reader, Writer } from '../../src/protocol/primitives/index.js';

// Requests recorded from real clients by scripts/capture-client-requests.ts.
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'requests');

for (const client of readdirSync(FIXTURES).sort()) {
  test(`${client}: every recorded request decodes and re-encodes byte for byte`, () => {
    const files = readdirSync(join(FIXTURES, client)).filter((f) => f.endsWith('.bin'));
    assert.ok(files.length >= 4, 'fixtures are present');
    for (const file of files) {
      const frame = readFileSync(join(FIXTURES, client, file));
      const apiKey = frame.readInt16BE(0);
      const version = frame.readInt16BE(2);
      const api = apiByKey.get(apiKey)!;
      assert.ok(file.startsWith(`${api.name}-v${version}`), file);
      const r = new Reader(frame);
      const headerVersion = requestHeaderVersion(apiKey, version);
      const header = decodeRequestHeader(r, headerVersion);
      const body = api.decodeRequest(r, version);
      assert.equal(r.remaining, 0, `${file}: every byte is understood`);
      const w = new Writer();
      encodeRequestHeader(w, headerVersion, header);
      api.encodeRequest(w, version, body);
      assert.deepEqual(w.toBuffer(), frame, `${file}: re-encoded identically`);
    }
  });
}
