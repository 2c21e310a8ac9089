import { test } from 'node:test';
import { DAMAGES } from './damaged-files.js';
import { runSlice } from './damaged-files-slice.js';

test('damaged files after a clean stop: the broker keeps every acknowledged record outside the damage, or refuses to start naming the file', () =>
  runSlice('clean', DAMAGES));
