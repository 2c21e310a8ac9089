import { test } from 'node:test';
import { runSlice } from './damaged-files-slice.js';

// Recovery after a kill makes these cases slower: the slice takes three of the five damages (the full set runs
// in `npm run chaos -- --probe damage`).
test('damaged files after kill -9: the broker keeps every acknowledged record outside the damage, or refuses to start naming the file', () =>
  runSlice('kill', ['deleted', 'truncated', 'garbage-inside']));
