import { test } from 'node:test';
import { runSlice } from './damaged-files-slice.js';

// Three of the five damages, so that the slice stays short; the clean-stop slice takes the other two and one of
// these. `npm run chaos -- --probe damage` runs every case.
test('damaged files after kill -9: the broker keeps every acknowledged record outside the damage, or refuses to start naming the file', () =>
  runSlice('kill', ['deleted', 'truncated', 'garbage-inside']));
