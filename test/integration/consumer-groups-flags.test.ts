import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { type Run, samsa } from './cli.js';
import { createTopics } from './clients.js';
import { produceSpread } from './group-helpers.js';

const { Kafka, logLevel } = kafkajs;

const TOPIC = 'cg-flags';
const PARTITIONS = 2;
/** Records per partition. */
const PER_PARTITION = 10;

let broker: Broker;
let kafka: InstanceType<typeof Kafka>;
let dir: string;

before(async () => {
  broker = await startBroker();
  kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  dir = await mkdtemp(join(tmpdir(), 'samsa-cg-flags-'));
  await createTopics(kafka, [{ topic: TOPIC, numPartitions: PARTITIONS }]);
  await produceSpread(broker.bootstrap, TOPIC, PER_PARTITION * PARTITIONS, PARTITIONS);
});

after(async () => {
  await broker.stop();
  await rm(dir, { recursive: true, force: true });
});

function tool(...args: string[]): Promise<Run> {
  return samsa(['consumer-groups', '--bootstrap-server', broker.bootstrap, ...args]);
}

/** Java's `%-Ns`: Kafka's tables are printf formats, each cell padded to its column's width and a space apart. */
const pad = (text: string, width: number) => text.padEnd(width);

/** Kafka's reset table: blank line, then "%-Gs %-Ts %-10s %s" rows (widths at least 15). */
function resetTable(rows: Array<[string, string, number, number]>): string {
  const g = Math.max(15, ...rows.map((r) => r[0].length));
  const t = Math.max(15, ...rows.map((r) => r[1].length));
  const line = (cells: string[]) => `${pad(cells[0]!, g)} ${pad(cells[1]!, t)} ${pad(cells[2]!, 10)} ${cells[3]}`;
  return `\n${[line(['GROUP', 'TOPIC', 'PARTITION', 'NEW-OFFSET']), ...rows.map((r) => line(r.map(String)))].join('\n')}\n`;
}

test('consumer-groups --describe --state and --list --state print Kafka state tables; --all-groups describes every group', async () => {
  const consumer = kafka.consumer({ groupId: 'g-state', maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({ eachMessage: async () => {} });
  try {
    const coordinator = `${broker.bootstrap}  (0)`;
    const header = `${pad('GROUP', 15)} ${pad('COORDINATOR (ID)', 25)} ${pad('ASSIGNMENT-STRATEGY', 20)} ${pad('STATE', 20)} #MEMBERS`;
    const stable = `${pad('g-state', 15)} ${pad(coordinator, 25)} ${pad('RoundRobinAssigner', 20)} ${pad('Stable', 20)} 1`;
    let state = await tool('--describe', '--group', 'g-state', '--state');
    const deadline = Date.now() + 60_000;
    while (state.stdout !== `\n${header}\n${stable}\n` && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      state = await tool('--describe', '--group', 'g-state', '--state');
    }
    assert.equal(state.code, 0, state.stderr);
    assert.equal(state.stdout, `\n${header}\n${stable}\n`);

    const verbose = await tool('--describe', '--group', 'g-state', '--state', '--verbose');
    assert.equal(verbose.code, 0, verbose.stderr);
    const verboseLines = verbose.stdout.split('\n');
    assert.equal(
      verboseLines[1],
      `${pad('GROUP', 15)} ${pad('COORDINATOR (ID)', 25)} ${pad('ASSIGNMENT-STRATEGY', 20)} ${pad('STATE', 20)} ${pad('GROUP-EPOCH', 15)} ${pad('TARGET-ASSIGNMENT-EPOCH', 25)} #MEMBERS`,
    );
    // A classic group has no epochs: Kafka prints '-'.
    assert.equal(
      verboseLines[2],
      `${pad('g-state', 15)} ${pad(coordinator, 25)} ${pad('RoundRobinAssigner', 20)} ${pad('Stable', 20)} ${pad('-', 15)} ${pad('-', 25)} 1`,
    );

    const listed = await tool('--list', '--state');
    assert.equal(listed.code, 0, listed.stderr);
    // "%-Ws %-20s" with W the longest id (at least 15) plus 10.
    assert.ok(listed.stdout.startsWith(`${pad('GROUP', 25)} ${pad('STATE', 20)}\n`), listed.stdout);
    assert.ok(listed.stdout.includes(`\n${pad('g-state', 25)} ${pad('Stable', 20)}\n`), listed.stdout);
    const filtered = await tool('--list', '--state', 'empty,dead');
    assert.equal(filtered.code, 0, filtered.stderr);
    assert.ok(!filtered.stdout.includes('g-state'), 'a Stable group is not among Empty and Dead ones');
    const typed = await tool('--list', '--type', '--state');
    assert.equal(typed.code, 0, typed.stderr);
    assert.ok(typed.stdout.startsWith(`${pad('GROUP', 25)} ${pad('TYPE', 20)} ${pad('STATE', 20)}\n`), typed.stdout);
    assert.ok(typed.stdout.includes(`\n${pad('g-state', 25)} ${pad('Classic', 20)} ${pad('Stable', 20)}\n`));
    const consumerType = await tool('--list', '--type', 'consumer');
    assert.equal(consumerType.code, 0, consumerType.stderr);
    assert.equal(consumerType.stdout, `${pad('GROUP', 25)} ${pad('TYPE', 20)}\n`, 'no KIP-848 group here');
    const badType = await tool('--list', '--type', 'share');
    assert.equal(badType.code, 1);
    assert.match(badType.stderr, /Invalid type list 'share'\. Valid types are: Classic, Consumer/);
    const badState = await tool('--list', '--state', 'sleepy');
    assert.equal(badState.code, 1);
    assert.match(badState.stderr, /Invalid state list 'sleepy'\. Valid states are: PreparingRebalance, /);

    const members = await tool('--describe', '--all-groups', '--members');
    assert.equal(members.code, 0, members.stderr);
    assert.match(members.stdout, /^g-state\s+\S+\s+\/127\.0\.0\.1\s+kafkajs\s+2\s+$/m);
  } finally {
    await consumer.disconnect();
  }
  const empty = await tool('--describe', '--all-groups', '--state');
  assert.equal(empty.code, 0, empty.stderr);
  // An empty group has no protocol any more (Kafka's DescribeGroups answers an empty one): '-'.
  assert.match(empty.stdout, /^g-state\s+\S+\s+\(0\)\s+-\s+Empty\s+0$/m);
  const missing = await tool('--describe', '--group', 'no-such-group', '--state');
  assert.equal(missing.code, 0);
  assert.equal(missing.stdout, "\nError: Consumer group 'no-such-group' does not exist.\n");
  const bothScopes = await tool('--describe', '--group', 'g-state', '--all-groups');
  assert.equal(bothScopes.code, 2);
  const stateValue = await tool('--describe', '--group', 'g-state', '--state', 'stable');
  assert.equal(stateValue.code, 2);
  assert.match(stateValue.stderr, /Option --describe does not take a value for --state/);
});

test('consumer-groups --reset-offsets: --to-current, --export and --from-file, --by-duration, --all-groups; --delete-offsets; --delete --all-groups', async () => {
  // Kafka resets a group that does not exist yet: this gives g-reset committed offsets on partition 0 only.
  const seeded = await tool(
    '--reset-offsets',
    '--group',
    'g-reset',
    '--topic',
    `${TOPIC}:0`,
    '--to-offset',
    '3',
    '--execute',
  );
  assert.equal(seeded.code, 0, seeded.stderr);
  assert.equal(seeded.stdout, resetTable([['g-reset', TOPIC, 0, 3]]));

  // --to-current keeps a committed offset and takes the log end where there is none.
  const current = await tool('--reset-offsets', '--group', 'g-reset', '--topic', TOPIC, '--to-current', '--dry-run');
  assert.equal(current.code, 0, current.stderr);
  assert.equal(
    current.stdout,
    resetTable([
      ['g-reset', TOPIC, 0, 3],
      ['g-reset', TOPIC, 1, PER_PARTITION],
    ]),
  );
  assert.equal(current.stderr, '', 'an explicit --dry-run is not warned about');
  const noMode = await tool('--reset-offsets', '--group', 'g-reset', '--topic', TOPIC, '--to-current');
  assert.match(noMode.stderr, /^WARN: No action will be performed as the --execute option is missing\./);

  // --export prints Kafka's CSV, which --from-file reads back.
  const exported = await tool(
    '--reset-offsets',
    '--group',
    'g-reset',
    '--topic',
    TOPIC,
    '--to-current',
    '--export',
    '--dry-run',
  );
  assert.equal(exported.code, 0, exported.stderr);
  assert.equal(exported.stdout, `${TOPIC},0,3\n${TOPIC},1,${PER_PARTITION}\n`);
  const plan = join(dir, 'plan.csv');
  await writeFile(plan, `${TOPIC},0,5\n${TOPIC},1,6\n`);
  const fromFile = await tool('--reset-offsets', '--group', 'g-reset', '--from-file', plan, '--execute');
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.equal(
    fromFile.stdout,
    resetTable([
      ['g-reset', TOPIC, 0, 5],
      ['g-reset', TOPIC, 1, 6],
    ]),
  );
  const described = await tool('--describe', '--group', 'g-reset');
  assert.match(
    described.stdout,
    new RegExp(`^g-reset\\s+${TOPIC}\\s+0\\s+5\\s+${PER_PARTITION}\\s+5\\s+-\\s+-\\s+-$`, 'm'),
  );
  assert.match(
    described.stdout,
    new RegExp(`^g-reset\\s+${TOPIC}\\s+1\\s+6\\s+${PER_PARTITION}\\s+4\\s+-\\s+-\\s+-$`, 'm'),
  );

  // A day back is before every record: the earliest offsets.
  const byDuration = await tool(
    '--reset-offsets',
    '--group',
    'g-reset',
    '--all-topics',
    '--by-duration',
    'P1DT0H0M0S',
    '--dry-run',
  );
  assert.equal(byDuration.code, 0, byDuration.stderr);
  assert.equal(
    byDuration.stdout,
    resetTable([
      ['g-reset', TOPIC, 0, 0],
      ['g-reset', TOPIC, 1, 0],
    ]),
  );
  const badDuration = await tool('--reset-offsets', '--group', 'g-reset', '--all-topics', '--by-duration', '1 day');
  assert.equal(badDuration.code, 2);
  assert.match(badDuration.stderr, /--by-duration must look like PnDTnHnMnS, not '1 day'/);

  // Two groups at once: one table, and a group column in the CSV.
  await tool('--reset-offsets', '--group', 'g-reset2', '--topic', `${TOPIC}:1`, '--to-offset', '2', '--execute');
  const both = await tool(
    '--reset-offsets',
    '--group',
    'g-reset',
    '--group',
    'g-reset2',
    '--all-topics',
    '--to-latest',
    '--export',
    '--dry-run',
  );
  assert.equal(both.code, 0, both.stderr);
  assert.equal(
    both.stdout,
    `g-reset,${TOPIC},0,${PER_PARTITION}\ng-reset,${TOPIC},1,${PER_PARTITION}\ng-reset2,${TOPIC},1,${PER_PARTITION}\n`,
  );
  const all = await tool('--reset-offsets', '--all-groups', '--all-topics', '--to-earliest', '--execute');
  assert.equal(all.code, 0, all.stderr);
  const rows = all.stdout.split('\n').filter((l) => l.startsWith('g-reset'));
  assert.deepEqual(
    rows.map((l) => l.split(/\s+/)),
    [
      ['g-reset', TOPIC, '0', '0'],
      ['g-reset', TOPIC, '1', '0'],
      ['g-reset2', TOPIC, '1', '0'],
    ],
  );

  // --delete-offsets: Kafka's message and TOPIC PARTITION STATUS table ("%-Ts %-10s %-15s").
  const deleted = await tool('--delete-offsets', '--group', 'g-reset', '--topic', `${TOPIC}:1`);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.equal(
    deleted.stdout,
    `Request succeeded for deleting offsets from group g-reset.\n\n${pad('TOPIC', 15)} ${pad('PARTITION', 10)} ${pad('STATUS', 15)}\n${pad(TOPIC, 15)} ${pad('1', 10)} ${pad('Successful', 15)}\n`,
  );
  const after = await tool('--describe', '--group', 'g-reset');
  assert.match(after.stdout, new RegExp(`^g-reset\\s+${TOPIC}\\s+0\\s`, 'm'));
  assert.doesNotMatch(
    after.stdout,
    new RegExp(`^g-reset\\s+${TOPIC}\\s+1\\s`, 'm'),
    'the offset of partition 1 is gone',
  );

  const gone = await tool('--delete', '--all-groups');
  assert.equal(gone.code, 0, gone.stderr);
  assert.match(gone.stdout, /^Deletion of requested consumer groups \(.*'g-reset'.*\) was successful\.\n$/);
  assert.match(gone.stdout, /'g-reset2'/);
  const listed = await tool('--list');
  assert.equal(listed.stdout, '');
});
