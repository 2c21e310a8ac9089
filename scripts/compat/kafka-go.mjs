// kafka-go's tests (the _test.go files of Debian's golang-github-segmentio-kafka-go-dev, 0.2.1, under
// /usr/share/gocode), built offline with Debian's Go in GOPATH mode against Debian's packaged dependencies and run
// against a Samsa broker. The tests dial localhost:9092 and no other address.
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { aptInstall, firstLine, log, runLogged, sh, startSamsa, WORK } from './common.mjs';

// The only address the tests know.
export const KAFKA_GO_PORT = 9092;
// kafka-go 0.2.1's tests read no version from the environment; KAFKA_VERSION is set all the same, as its CI does.
const KAFKA_VERSION = '2.1.0';
const PACKAGE_DIR = '/usr/share/gocode/src/github.com/segmentio/kafka-go';
const QUICK_PATTERN = '^(TestConn|TestClientCreateTopics|TestWriter)$';
const SUITE_TIMEOUT = '20m';
const SUITE_TIMEOUT_MS = 25 * 60_000;

export const name = 'kafka-go';

function goEnv() {
  return {
    ...process.env,
    // GOPATH mode, offline: kafka-go 0.2.1 has no go.mod, and its dependencies are Debian's, in /usr/share/gocode.
    GO111MODULE: 'off',
    GOPATH: `${join(WORK, 'gopath')}:/usr/share/gocode`,
    GOCACHE: join(WORK, 'gocache'),
    GOFLAGS: '',
    GOPROXY: 'off',
  };
}

export function prepare() {
  aptInstall(['golang-go', 'golang-github-segmentio-kafka-go-dev']);
  // A copy to build in: nothing is written under /usr/share/gocode.
  const copy = join(WORK, 'gopath/src/github.com/segmentio/kafka-go');
  if (!existsSync(copy)) {
    mkdirSync(join(copy, '..'), { recursive: true });
    cpSync(PACKAGE_DIR, copy, { recursive: true });
  }
  const binary = join(WORK, 'kafka-go.test');
  if (!existsSync(binary)) {
    log('building kafka-go tests');
    sh('go', ['test', '-c', '-o', binary, '.'], { cwd: copy, env: goEnv() });
  }
  return { binary, dir: copy };
}

/** Reads `go tool test2json` events into one result per leaf test (a test with subtests is their sum). */
function parseEvents(text) {
  const tests = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    const event = JSON.parse(line);
    if (!event.Test) continue;
    const test = tests.get(event.Test) ?? { name: event.Test, output: [] };
    tests.set(event.Test, test);
    if (event.Action === 'output') test.output.push(event.Output);
    if (['pass', 'fail', 'skip'].includes(event.Action)) test.action = event.Action;
  }
  const names = [...tests.keys()];
  const leaves = [...tests.values()].filter((t) => !names.some((n) => n.startsWith(`${t.name}/`)));
  return leaves.map((t) => {
    const output = t.output.join('');
    if (t.action === 'pass') return { name: t.name, status: 'passed' };
    if (t.action === 'skip') {
      return {
        name: t.name,
        status: 'skipped',
        // A bare t.Skip() leaves "x_test.go:N: " with nothing after it.
        detail: firstLine(output, /_test\.go:\d+: \S/) ?? 'skipped by the test itself, which gives no reason',
      };
    }
    const error = firstLine(output, /_test\.go:\d+:|panic:|timed out/) ?? 'failed without output';
    return { name: t.name, status: 'failed', detail: t.action ? error : `no verdict (the run ended): ${error}` };
  });
}

// The broker settings of kafka-go's own CI that bear on its tests: a broker id other than 0 (a test takes a
// coordinator id of 0 for an unset one) and large messages.
const BROKER_OVERRIDES = { 'node.id': '1', 'message.max.bytes': '200000000' };

export async function run({ prepared, quick, logDir }) {
  const broker = await startSamsa('kafka-go', KAFKA_GO_PORT, BROKER_OVERRIDES);
  const args = ['tool', 'test2json', prepared.binary, '-test.v', '-test.timeout', SUITE_TIMEOUT];
  if (quick) args.push('-test.run', QUICK_PATTERN);
  const logFile = join(logDir, 'kafka-go.jsonl');
  // From the package directory, as `go test` runs a test binary.
  const outcome = await runLogged('go', args, {
    cwd: prepared.dir,
    logFile,
    timeoutMs: SUITE_TIMEOUT_MS,
    env: { ...goEnv(), KAFKA_VERSION },
  });
  await broker.stop();
  const results = parseEvents(readFileSync(logFile, 'utf8'));
  const notes = [];
  if (outcome.timedOut) notes.push('The run was killed at its time limit; tests still running have no verdict.');
  return {
    suite: 'kafka-go',
    source: "Debian's golang-github-segmentio-kafka-go-dev 0.2.1, its _test.go files (kafka-go's own tests)",
    command: `go test -c (GOPATH mode, offline), then the test binary -test.v${quick ? ` -test.run '${QUICK_PATTERN}'` : ''}`,
    broker: `${JSON.stringify(BROKER_OVERRIDES)}, on localhost:${KAFKA_GO_PORT}`,
    results: results.sort((a, b) => a.name.localeCompare(b.name)),
    notes,
  };
}
