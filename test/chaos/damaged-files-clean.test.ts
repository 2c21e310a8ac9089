import { test } from 'node:test';
import { runSlice } from './damaged-files-slice.js';

// Three of the five damages, so that the slice stays short; the kill -9 slice takes the other two and one of
// these. `npm run chaos -- --probe damage` runs every case.
test('damaged files after a clean stop: the broker keeps every acknowledged record outside the damage, or refuses to start naming the file', () =>
  runSlice('clean', ['emptied', 'truncated', 'garbage-appended']));
