// The package from its real build, linked into a test project: the bounded version of test/package/packed.ts,
// which `npm run test:package` runs (see test/package/checks.ts).
import { definePackageTests } from '../package/checks.js';

definePackageTests('linked');
