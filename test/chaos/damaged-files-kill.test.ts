import { test } from 'node:test';
import { DAMAGES } from './damaged-files.js';
import { runSlice } from './damaged-files-slice.js';

test('damaged files after kill -9: the broker keeps every acknowledged record outside the damage, or refuses to start naming the file', () =>
  runSlice('kill', DAMAGES));
