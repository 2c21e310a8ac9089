import assert from 'node:assert/strict';
import { test } from 'node:test';
import { showBytes } from '../../src/console/record-format.js';

test('showBytes: text, JSON pretty-printed, hex, each cut at its limit; null stays null', () => {
  assert.deepEqual(showBytes(null, 'json', 10), { shown: null, size: 0, truncated: false, format: 'json' });
  assert.deepEqual(showBytes(Buffer.from('héllo'), 'text', 100), {
    shown: 'héllo',
    size: 6,
    truncated: false,
    format: 'text',
  });
  assert.deepEqual(showBytes(Buffer.from('[1,{"a":true}]'), 'json', 100), {
    shown: '[\n  1,\n  {\n    "a": true\n  }\n]',
    size: 14,
    truncated: false,
    format: 'json',
  });
  assert.deepEqual(showBytes(Buffer.from([0, 1, 0xab]), 'hex', 100), {
    shown: '00 01 ab',
    size: 3,
    truncated: false,
    format: 'hex',
  });
  assert.deepEqual(showBytes(Buffer.from([0, 1, 0xab]), 'hex', 2), {
    shown: '00 01',
    size: 3,
    truncated: true,
    format: 'hex',
  });
  assert.deepEqual(showBytes(Buffer.alloc(0), 'hex', 2), { shown: '', size: 0, truncated: false, format: 'hex' });
});

test('showBytes: JSON that is not JSON, or is cut off, is shown as text and says so', () => {
  assert.deepEqual(showBytes(Buffer.from('not json'), 'json', 100), {
    shown: 'not json',
    size: 8,
    truncated: false,
    format: 'text',
  });
  assert.deepEqual(showBytes(Buffer.from('{"a":1}'), 'json', 4), {
    shown: '{"a"',
    size: 7,
    truncated: true,
    format: 'text',
  });
});
