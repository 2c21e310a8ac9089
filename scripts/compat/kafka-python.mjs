// kafka-python's integration tests (test/ of Debian's python-kafka source package, 2.0.2, the version of
// python3-kafka), run with /usr/bin/python3 and Debian's pytest against a Samsa broker.
//
// kafka-python's fixtures would start Kafka from a Kafka distribution; kafka_python_samsa.py, a pytest plugin,
// points them at Samsa instead and records each test's outcome.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { aptInstall, debianSource, log, runLogged, startSamsa } from './common.mjs';

// The Kafka version the tests are told the broker is: the newest kafka-python 2.0.2 knows (its servers/ list).
const KAFKA_VERSION = '2.5.0';
// The test files that need a broker; the others test the client alone.
const INTEGRATION_FILES = [
  'test/test_admin_integration.py',
  'test/test_consumer_group.py',
  'test/test_consumer_integration.py',
  'test/test_producer.py',
  'test/test_sasl_integration.py',
];
const QUICK_FILES = ['test/test_consumer_group.py', 'test/test_producer.py'];
const SUITE_TIMEOUT_MS = 30 * 60_000;

export const name = 'kafka-python';

export function prepare() {
  aptInstall(['python3-pytest', 'python3-mock', 'python3-pytest-mock', 'python3-kafka']);
  return { source: debianSource('python-kafka') };
}

// One outcome per test: a failure in setup, call or teardown outranks a skip, which outranks a pass.
const RANK = { passed: 0, skipped: 1, failed: 2 };

function merge(lines) {
  const byName = new Map();
  for (const entry of lines) {
    const seen = byName.get(entry.name);
    if (!seen || RANK[entry.status] > RANK[seen.status]) byName.set(entry.name, entry);
  }
  return [...byName.values()];
}

export async function run({ prepared, port, quick, logDir }) {
  const { source } = prepared;
  // The fixtures create topics by auto-creation when they want the fixture's partition count (4), and through
  // CreateTopics otherwise; the broker is configured as their own server.properties configures Kafka.
  const overrides = {
    'num.partitions': '4',
    'offsets.topic.num.partitions': '2',
    'group.min.session.timeout.ms': '1000',
    // As the fixtures' kafka.properties: an authorizer that allows everything no ACL names.
    'authorizer.class.name': 'kafka.security.auth.SimpleAclAuthorizer',
    'allow.everyone.if.no.acl.found': 'true',
  };
  const broker = await startSamsa('kafka-python', port, overrides);
  const resultsFile = join(logDir, 'kafka-python-results.jsonl');
  rmSync(resultsFile, { force: true });
  const files = quick ? QUICK_FILES : INTEGRATION_FILES;
  log(`kafka-python: ${files.join(' ')}`);
  const outcome = await runLogged(
    '/usr/bin/python3',
    ['-m', 'pytest', '-p', 'kafka_python_samsa', '-p', 'no:cacheprovider', '-o', 'addopts=', '-rs', ...files],
    {
      cwd: source,
      logFile: join(logDir, 'kafka-python.log'),
      timeoutMs: SUITE_TIMEOUT_MS,
      env: {
        ...process.env,
        PYTHONPATH: import.meta.dirname,
        KAFKA_VERSION,
        SAMSA_BOOTSTRAP: broker.bootstrap,
        SAMSA_RESULTS: resultsFile,
      },
    },
  );
  await broker.stop();
  const lines = existsSync(resultsFile)
    ? readFileSync(resultsFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
    : [];
  const notes = [];
  if (outcome.timedOut)
    notes.push(`pytest was killed after ${SUITE_TIMEOUT_MS / 60_000} min; later tests have no verdict.`);
  if (lines.length === 0) notes.push(`pytest recorded no test (exit ${outcome.code}); see its log.`);
  return {
    suite: 'kafka-python',
    source: "Debian's source package python-kafka 2.0.2-3, test/ (kafka-python's own tests)",
    command: `KAFKA_VERSION=${KAFKA_VERSION} /usr/bin/python3 -m pytest -p kafka_python_samsa ${files.join(' ')}`,
    broker: JSON.stringify(overrides),
    results: merge(lines).sort((a, b) => a.name.localeCompare(b.name)),
    notes,
  };
}
