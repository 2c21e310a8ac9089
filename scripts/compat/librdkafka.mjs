// librdkafka's own test suite (tests/ of Debian's librdkafka source package, the version installed here: 2.0.2),
// built against its source tree and run against a Samsa broker.
//
// Only the tests that need a broker run: librdkafka's "local" tests (mock cluster, unit tests) say nothing of
// Samsa. Each test number runs in its own test-runner process, so one that hangs or crashes costs only itself.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import {
  aptInstall,
  debianSource,
  log,
  pool,
  REPO,
  runLogged,
  sh,
  startSamsa,
  startSamsaCluster,
  WORK,
} from './common.mjs';

// The Kafka version the tests are told the broker is: they leave out what a broker of that version lacks.
// Samsa answers every API version of Kafka 3.x; librdkafka 2.0.2 was released beside Kafka 3.4.
const TEST_KAFKA_VERSION = '3.4.0';
// Tests waiting on the broker overlap well; more than this loads two CPUs until timeouts fire.
const PARALLEL_TEST_RUNNERS = 3;
// The longest a test number's runner may take before it is killed and its tests count as failed.
const TEST_NUMBER_TIMEOUT_MS = 10 * 60_000;
// The bounded subset (--quick): tests that cover produce, consume, groups, offsets and admin in a few minutes.
const QUICK_TESTS = ['0001', '0002', '0005', '0012', '0013', '0015', '0017', '0019', '0031', '0035', '0054', '0081'];

// RapidJSON: the tests that check librdkafka's statistics JSON need it (0053_stats, 0110_batch_size).
const BUILD_PACKAGES = ['build-essential', 'dpkg-dev', 'zlib1g-dev', 'libzstd-dev', 'liblz4-dev', 'rapidjson-dev'];
const CONFIGURE_ARGS = ['--disable-ssl', '--disable-gssapi'];

// Tests not run, and why. Each entry is checked against the test's source.
const NOT_RUN = {
  '0098_consumer_txn':
    "its transactional producer is a Java program built against $KAFKA_PATH's kafka-clients jars (0.11 or later); the only Kafka jars here are 0.9.0.1's, which have no transactions",
};

// Tests that create topics with replication factor 3, or read from a follower, run against three brokers on etcd
// (`samsa cluster`), as librdkafka's own test clusters have three; the rest against one broker, as they always have.
const THREE_BROKERS = ', three brokers';
const ON_THREE_BROKERS = new Set([
  '0101_fetch_from_follower',
  '0103_transactions',
  '0107_topic_recreate',
  '0111_delay_create_topics',
]);

// Tests of SASL itself run against a broker whose listener is SASL_PLAINTEXT with PLAIN (the build has no SSL, so no
// SCRAM), the test configuration holding the user's name and password, as librdkafka's SASL test clusters.
const SASL = ', SASL/PLAIN';
const ON_SASL = new Set(['0135_sasl_credentials']);
const SASL_USER = 'librdkafka';
const SASL_PASSWORD = 'librdkafka-secret';

// As librdkafka's test clusters (trivup's KafkaBrokerApp): Kafka's ACL authorizer, which allows what no ACL
// names. 0081_admin's ACL subtests and the tests that deny with kafka-acls.sh (0109, 0115, 0119) need it.
const AUTHORIZER = {
  'authorizer.class.name': 'kafka.security.authorizer.AclAuthorizer',
  'allow.everyone.if.no.acl.found': 'true',
};

export const name = 'librdkafka';

export function prepare() {
  // etcd-server: the store of the three brokers some tests run against.
  aptInstall([...BUILD_PACKAGES, 'etcd-server']);
  const source = debianSource('librdkafka');
  const runner = join(source, 'tests', 'test-runner');
  // Built once; again when the build's inputs change.
  const stamp = join(source, '.samsa-compat-build');
  const inputs = JSON.stringify({ BUILD_PACKAGES, CONFIGURE_ARGS });
  if (!existsSync(runner) || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== inputs) {
    log('building librdkafka and its tests (several minutes)');
    const jobs = String(cpus().length);
    // Without SSL and SASL: Samsa has neither, and the tests that need them skip themselves.
    sh('./configure', CONFIGURE_ARGS, { cwd: source });
    // The tests link both the C library and the C++ one.
    sh('make', ['-j', jobs, '-C', 'src'], { cwd: source });
    sh('make', ['-j', jobs, '-C', 'src-cpp'], { cwd: source });
    sh('make', ['-j', jobs, '-C', 'tests', 'build'], { cwd: source });
    writeFileSync(stamp, inputs);
  }
  return { source, runner, kafkaPath: writeKafkaToolScripts() };
}

/**
 * Some tests run Kafka's tools, found as $KAFKA_PATH/bin/kafka-topics.sh and kafka-acls.sh and given
 * --bootstrap-server $BROKERS. Samsa's own `samsa topics` and `samsa acls` take the same flags; this puts them at
 * those paths.
 */
function writeKafkaToolScripts() {
  const kafkaPath = join(WORK, 'kafka-path');
  mkdirSync(join(kafkaPath, 'bin'), { recursive: true });
  for (const [script, tool] of [
    ['kafka-topics.sh', 'topics'],
    ['kafka-acls.sh', 'acls'],
  ]) {
    // From the repository, where node finds tsx.
    writeFileSync(
      join(kafkaPath, 'bin', script),
      `#!/bin/sh\ncd "${REPO}" && exec "${process.execPath}" --import tsx src/cli/main.ts ${tool} "$@"\n`,
      { mode: 0o755 },
    );
  }
  return kafkaPath;
}

/** The broker tests of test.c's table: name, flags, scenario. */
function listTests(source) {
  const text = readFileSync(join(source, 'tests', 'test.c'), 'utf8');
  const table = text.slice(text.indexOf('struct test tests[] = {'));
  const body = table.slice(0, table.indexOf('\n};'));
  return body
    .split('_TEST(')
    .slice(1)
    .map((entry) => {
      const [, testName, flags] = /^(\d{4}\w*),\s*([^,)]*)/.exec(entry) ?? [];
      return { name: testName, flags: flags?.trim() ?? '', scenario: /\.scenario\s*=\s*"(\w+)"/.exec(entry)?.[1] };
    })
    .filter((t) => t.name && !/TEST_F_LOCAL/.test(t.flags))
    .map((t) => ({
      ...t,
      // A manual test (8000_idle idles for minutes) runs only when named; naming test numbers would run it.
      notRun:
        NOT_RUN[t.name] ??
        (/TEST_F_MANUAL/.test(t.flags) ? "a manual test, which librdkafka's runner leaves out" : undefined),
    }));
}

// Tests run one subtest at a time (SUBTESTS=<function>:), so that the first failure does not hide the others:
// 0081_admin runs each Admin API in turn and stops at the first that fails. The names are the subtests' functions,
// in the order the test calls them.
const BY_SUBTEST = {
  '0081_admin': [
    'do_test_unclean_destroy',
    'do_test_CreateTopics',
    'do_test_DeleteTopics',
    'do_test_CreatePartitions',
    'do_test_CreateAcls',
    'do_test_DescribeAcls',
    'do_test_DeleteAcls',
    'do_test_AlterConfigs',
    'do_test_DescribeConfigs',
    'do_test_DeleteRecords',
    'do_test_ListConsumerGroups',
    'do_test_DescribeConsumerGroups',
    'do_test_DeleteGroups',
    'do_test_DeleteConsumerGroupOffsets',
    'do_test_AlterConsumerGroupOffsets',
    'do_test_ListConsumerGroupOffsets',
  ],
  // One consumer that hangs on close would otherwise cost every subtest after it.
  '0113_cooperative_rebalance': [
    'a_assign_tests',
    'b_subscribe_with_cb_test',
    'c_subscribe_no_cb_test',
    'd_change_subscription_add_topic',
    'e_change_subscription_remove_topic',
    'f_assign_call_cooperative',
    'g_incremental_assign_call_eager',
    'h_delete_topic',
    'i_delete_topic_2',
    'j_delete_topic_no_rb_callback',
    'k_add_partition',
    'l_unsubscribe',
    'm_unsubscribe_2',
    'n_wildcard',
    'o_java_interop',
    's_subscribe_when_rebalancing',
    't_max_poll_interval_exceeded',
    'u_multiple_subscription_changes',
    'v_commit_during_rebalance',
    'x_incremental_rebalances',
  ],
};

/** One test-runner process per test number, or per subtest of the tests in BY_SUBTEST. */
function jobsFor(tests) {
  const jobs = [];
  for (const number of new Set(tests.map((t) => t.name.slice(0, 4)))) {
    const ofNumber = tests.filter((t) => t.name.startsWith(number));
    const split = ofNumber.find((t) => BY_SUBTEST[t.name]);
    if (split && ofNumber.length === 1) {
      for (const subtest of BY_SUBTEST[split.name]) jobs.push({ number, subtest, tests: ofNumber });
    } else {
      jobs.push({ number, tests: ofNumber });
    }
  }
  return jobs;
}

// The test runner's summary: "| <name> | <STATE> | <seconds>s | <fail or skip reason>".
const SUMMARY_LINE = /^\|\s*(\d{4}\w*)\s*\|\s*(\w+)\s*\|\s*[\d.]+s\s*\|\s*(.*)$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the runner colours its output with escape codes.
const ANSI = /\x1b\[[0-9;]*m/g;

function parseSummary(output) {
  const states = new Map();
  for (const raw of output.split('\n')) {
    const match = SUMMARY_LINE.exec(raw.replace(ANSI, ''));
    if (match) states.set(match[1], { state: match[2], text: match[3].trim() });
  }
  return states;
}

// A failure: '### Test "<name> (<subtest>)" failed at <file>:<line>:<function>() at <date>: ###', then its message.
const FAILURE_LINE = /^### Test "(\d{4}\w*)[^"]*" failed at ([^:]+:\d+):/;
// A pass, as the test ends: '[<name> / <seconds>s] ================= Test <name> PASSED ================='. It counts
// when the runner dies before its summary (a test beside it hung).
const PASSED_LINE = /^\[(\d{4}\w*)\s*\/\s*[\d.]+s\]\s*=+ Test \1 PASSED =+$/;
// A skip, from TEST_SKIP(): '[<name> / <seconds>s] SKIPPING TEST: <reason>'.
const SKIP_LINE = /^\[(\d{4}\w*)\s*\/\s*[\d.]+s\]\s*SKIPPING TEST: (.*)$/;

/** The first failure and the first skip reason the output tells of each test. */
function parseOutput(output) {
  const lines = output.replace(ANSI, '').split('\n');
  const failures = new Map();
  const skips = new Map();
  const passes = new Set();
  lines.forEach((line, i) => {
    const failure = FAILURE_LINE.exec(line);
    if (failure && !failures.has(failure[1])) {
      failures.set(failure[1], `${(lines[i + 1] ?? '').trim()} (${failure[2]})`.slice(0, 300));
    }
    const pass = PASSED_LINE.exec(line);
    if (pass) passes.add(pass[1]);
    const skip = SKIP_LINE.exec(line);
    if (skip && !skips.has(skip[1])) skips.set(skip[1], skip[2].trim());
  });
  return { failures, skips, passes };
}

function resultOf(test, summary, told, run) {
  const entry = summary.get(test.name);
  const failure = told.failures.get(test.name);
  // A test that failed makes the runner abort at exit (librdkafka's threads are still up), before its summary.
  if (failure || entry?.state === 'FAILED') {
    return { name: test.name, status: 'failed', detail: failure ?? entry.text };
  }
  if (entry?.state === 'PASSED' || told.passes.has(test.name)) return { name: test.name, status: 'passed' };
  if (entry?.state === 'SKIPPED' || told.skips.has(test.name)) {
    let reason = told.skips.get(test.name) || entry?.text;
    if (!reason && test.scenario) reason = `requires librdkafka's test scenario "${test.scenario}"`;
    if (/negative test flags/.test(reason ?? '') && /KNOWN_ISSUE/.test(test.flags)) {
      reason = 'librdkafka marks it a known issue of its own; its runner leaves it out';
    }
    return { name: test.name, status: 'skipped', detail: reason || 'skipped by the test runner' };
  }
  const why = run.timedOut
    ? `killed after ${TEST_NUMBER_TIMEOUT_MS / 60_000} min`
    : `test-runner ended (${run.signal ?? `exit ${run.code}`}) without a verdict for it`;
  return { name: test.name, status: 'failed', detail: why };
}

export async function run({ prepared, port, quick, logDir, only }) {
  const { source, runner } = prepared;
  const chosen = only ?? (quick ? QUICK_TESTS : undefined);
  const tests = listTests(source).filter((t) => !chosen || chosen.includes(t.name.slice(0, 4)));
  // Where each test runs: its scenario's broker ("noautocreate" needs one that does not create topics on
  // Metadata), the three brokers or the SASL broker.
  const targetOf = (t) =>
    `${t.scenario ?? 'default'}${ON_THREE_BROKERS.has(t.name) ? THREE_BROKERS : ON_SASL.has(t.name) ? SASL : ''}`;
  const targets = [...new Set(tests.map(targetOf))];
  const results = [];
  const brokers = [];
  let nextPort = port;
  for (const target of targets) {
    // As librdkafka's own test clusters (trivup's KafkaCluster): topics are auto-created with 4 partitions, and the
    // first rebalance of a new group waits Kafka's default 3 s for more members (trivup leaves it unset). Tests count
    // on it: 0113's l_unsubscribe subscribes two consumers one after the other and expects one assignment each.
    const overrides = { 'num.partitions': '4', 'group.initial.rebalance.delay.ms': '3000', ...AUTHORIZER };
    const scenario = target.replace(THREE_BROKERS, '').replace(SASL, '');
    if (scenario === 'noautocreate') overrides['auto.create.topics.enable'] = 'false';
    const clientConf = [];
    if (target.endsWith(SASL)) {
      overrides.listeners = `SASL_PLAINTEXT://127.0.0.1:${nextPort}`;
      overrides['advertised.listeners'] = `SASL_PLAINTEXT://localhost:${nextPort}`;
      overrides['sasl.enabled.mechanisms'] = 'PLAIN';
      overrides['listener.name.sasl_plaintext.plain.sasl.jaas.config'] =
        `org.apache.kafka.common.security.plain.PlainLoginModule required user_${SASL_USER}="${SASL_PASSWORD}";`;
      clientConf.push(
        'security.protocol=SASL_PLAINTEXT',
        'sasl.mechanisms=PLAIN',
        `sasl.username=${SASL_USER}`,
        `sasl.password=${SASL_PASSWORD}`,
      );
    }
    let broker;
    if (target.endsWith(THREE_BROKERS)) {
      // Three ports from nextPort; replication factor 3 for new topics, as trivup's replication_factor, and a rack
      // per broker with Kafka's rack-aware replica selector, as trivup sets them for fetch-from-follower.
      overrides['default.replication.factor'] = '3';
      overrides['broker.rack'] = 'RACK{node.id}';
      overrides['replica.selector.class'] = 'org.apache.kafka.common.replica.RackAwareReplicaSelector';
      broker = await startSamsaCluster(`librdkafka-${scenario}`, nextPort, 3, overrides);
      nextPort += 3;
    } else {
      broker = await startSamsa(
        `librdkafka-${target.replaceAll(/[^a-z0-9]+/gi, '-').toLowerCase()}`,
        nextPort++,
        overrides,
      );
    }
    brokers.push({ target, log: broker.log, overrides });
    const dir = join(logDir, `librdkafka-${target.replaceAll(/[^a-z0-9]+/gi, '-').toLowerCase()}`);
    mkdirSync(dir, { recursive: true });
    // Random topic names keep parallel runners, and runs, apart.
    writeFileSync(
      join(dir, 'test.conf'),
      [
        `bootstrap.servers=${broker.bootstrap}`,
        'test.topic.random=true',
        'api.version.request=true',
        ...clientConf,
        '',
      ].join('\n'),
    );
    const mine = tests.filter((t) => targetOf(t) === target);
    for (const t of mine.filter((x) => x.notRun)) results.push({ name: t.name, status: 'skipped', detail: t.notRun });
    const toRun = mine.filter((t) => !t.notRun);
    const jobs = jobsFor(toRun);
    log(`librdkafka: ${jobs.length} test runner processes, ${target}`);
    await pool(jobs, PARALLEL_TEST_RUNNERS, async ({ number, subtest, tests: jobTests }) => {
      const logFile = join(dir, `${number}${subtest ? `-${subtest}` : ''}.log`);
      const started = Date.now();
      // From the tests directory, as librdkafka's Makefile runs them; test.conf is the scenario's own.
      const outcome = await runLogged(runner, ['-L', '-s', scenario], {
        cwd: join(source, 'tests'),
        logFile,
        timeoutMs: TEST_NUMBER_TIMEOUT_MS,
        env: {
          ...process.env,
          TESTS: number,
          // A subtest's name is "<function>:<line>: <description>".
          ...(subtest ? { SUBTESTS: `${subtest}:` } : {}),
          TEST_KAFKA_VERSION,
          RDKAFKA_TEST_CONF: join(dir, 'test.conf'),
          KAFKA_PATH: prepared.kafkaPath,
          BROKERS: broker.bootstrap,
          // The libraries just built, not the installed ones (as librdkafka's run-test.sh sets it).
          LD_LIBRARY_PATH: `${join(source, 'src')}:${join(source, 'src-cpp')}`,
        },
      });
      const output = readFileSync(logFile, 'utf8');
      const summary = parseSummary(output);
      const told = parseOutput(output);
      for (const test of jobTests) {
        const result = resultOf(test, summary, told, outcome);
        results.push(subtest ? { ...result, name: `${test.name}/${subtest}` } : result);
      }
      log(`librdkafka ${number}${subtest ? ` ${subtest}` : ''}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
    });
    await broker.stop();
  }
  results.sort((a, b) => a.name.localeCompare(b.name));
  return {
    suite: 'librdkafka',
    source: "Debian's source package librdkafka 2.0.2-1, tests/ (librdkafka's own test suite)",
    command: `TESTS=<number> [SUBTESTS=<function>:] TEST_KAFKA_VERSION=${TEST_KAFKA_VERSION} tests/test-runner -L -s <scenario>, one process per test number (per subtest for ${Object.keys(BY_SUBTEST).join(', ')}), ${PARALLEL_TEST_RUNNERS} at a time`,
    broker: brokers.map((b) => `${b.target}: ${JSON.stringify(b.overrides)}`).join('; '),
    results,
    notes: [
      'The "local" tests (flag TEST_F_LOCAL: mock cluster, unit tests) are not listed: they need no broker.',
      "Tests that run Kafka's kafka-topics.sh or kafka-acls.sh (KAFKA_PATH) get Samsa's `samsa topics` or `samsa acls`, which take the same flags.",
      `Tests ${[...ON_THREE_BROKERS].join(', ')} (topics of replication factor 3, a read from a follower) ran against three brokers on etcd (\`samsa cluster\`, broker.rack RACK<node id> and Kafka's rack-aware replica selector), ${[...ON_SASL].join(', ')} against a broker whose listener is SASL_PLAINTEXT with PLAIN (librdkafka is built without SSL), the rest against one broker per scenario; every broker with Kafka's ACL authorizer allowing what no ACL names, as librdkafka's test clusters.`,
      quick ? `Bounded subset: test numbers ${QUICK_TESTS.join(', ')}.` : 'Every broker test number was run.',
    ],
  };
}
