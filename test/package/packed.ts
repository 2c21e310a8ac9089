// `npm run test:package`: the package packed by `npm pack` and installed from its tarball (test/package/checks.ts).
// Not in `npm test`, whose per-file timeout it could exceed on a busy machine; .ci/run runs both.
import { definePackageTests } from './checks.js';

definePackageTests('packed');
