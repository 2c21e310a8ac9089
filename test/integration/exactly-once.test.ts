import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker } from '../../src/broker/broker.js';
import { consumeWithKcat, createTopics, PYTHON } from './clients.js';

const INPUT_RECORDS = 2000;
/** Each transaction of the processor stays open this long with its records sent: a kill lands inside one. */
const PAUSE_MS = 100;
const PARTITIONS = 2;
const KILLS = 3;
const SCRIPT = join(import.meta.dirname, 'python', 'eos_processor.py');

/** The kills land in one of the first this many transactions of a run, chosen at random. */
const KILL_WITHIN_TRANSACTIONS = 8;

/**
 * Runs the processor until it exits (code returned) or, with `kill`, kills it with SIGKILL inside its
 * `kill.transaction`-th transaction, `kill.delayMs` after that transaction's records and offsets were sent (the
 * processor prints "open <n>" then, and keeps the transaction open for PAUSE_MS). The delay stays under half the
 * pause, so the kill lands while the transaction is open even when this process reads the line late.
 */
function runProcessor(bootstrap: string, kill?: { transaction: number; delayMs: number }): Promise<number | null> {
  const args = [SCRIPT, bootstrap, 'eos-in', 'eos-out', 'eos-group', 'eos-processor', String(PAUSE_MS)];
  const child = spawn(PYTHON, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let timer: NodeJS.Timeout | null = null;
  // Read by lines: Python writes a printed line and its newline apart, so a chunk may end in the middle of one.
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (kill && !timer && line === `open ${kill.transaction}`) {
      timer = setTimeout(() => child.kill('SIGKILL'), kill.delayMs);
    }
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (code !== 0 && signal === null) console.error(stderr);
      resolve(code);
    }),
  );
}

test('exactly-once read-process-write: a processor killed at random points several times still writes each input once', async () => {
  const broker = await startBroker();
  try {
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    await createTopics(kafka, [
      { topic: 'eos-in', numPartitions: PARTITIONS },
      { topic: 'eos-out', numPartitions: PARTITIONS },
    ]);
    const producer = kafka.producer();
    await producer.connect();
    const inputs = Array.from({ length: INPUT_RECORDS }, (_, i) => `i${i}`);
    await producer.send({
      topic: 'eos-in',
      messages: inputs.map((value, i) => ({ value, partition: i % PARTITIONS })),
    });
    await producer.disconnect();

    for (let k = 0; k < KILLS; k++) {
      const transaction = 1 + Math.floor(Math.random() * KILL_WITHIN_TRANSACTIONS);
      assert.equal(
        await runProcessor(broker.bootstrap, { transaction, delayMs: Math.floor((Math.random() * PAUSE_MS) / 2) }),
        null,
        'the processor is killed inside a transaction',
      );
    }
    assert.equal(await runProcessor(broker.bootstrap), 0, 'the last run finishes the input');

    const outputs: string[] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      for (const r of await consumeWithKcat(broker.bootstrap, 'eos-out', p, 'read_committed')) outputs.push(r.value!);
    }
    assert.deepEqual(
      outputs.sort(),
      inputs.map((v) => `out-${v}`).sort(),
      'every input exactly once in the committed output',
    );
    const everything: string[] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      for (const r of await consumeWithKcat(broker.bootstrap, 'eos-out', p, 'read_uncommitted'))
        everything.push(r.value!);
    }
    // The kills landed inside open transactions: their records are in the log, aborted.
    assert.ok(everything.length > outputs.length, `${everything.length} written, ${outputs.length} committed`);
  } finally {
    await broker.stop();
  }
});
