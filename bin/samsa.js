#!/usr/bin/env -S node --max-semi-space-size=4
// The `samsa` command. The TypeScript sources are compiled to dist/ by `npm install` (the prepare script).
//
// The first line gives Node.js the flags the broker is meant to run with, as Kafka's start scripts give the JVM its
// heap options: V8 reads --max-semi-space-size only as it starts, so `samsa server` cannot set it for itself. It caps
// V8's young generation at 4 MB per semi-space (16 MB by default): about 20 MB less RSS under load, for no CPU or
// throughput measured (docs/PERFORMANCE.md, Memory). `node bin/samsa.js` skips this line, and `node <flags>
// bin/samsa.js` chooses other flags (NODE_OPTIONS cannot: the flags of this line come after it).
import '../dist/cli/main.js';
