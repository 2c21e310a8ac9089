import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { parseProperties } from '../config/properties.js';
import { integerFlag, parseFlags } from './tools/args.js';
import { kafkaUsageExit } from './tools/perf-args.js';

const SERVER_STOP_USAGE = `usage: samsa server-stop [--node-id ID]

Sends SIGTERM (or the signal named by the SIGNAL environment variable) to every Samsa broker started with
\`samsa server\` (or kafka-server-start.sh) on this machine, as Kafka's kafka-server-stop.sh does; --node-id
stops only the broker with that node.id (or broker.id). Exits with 1 when there is none.`;

const FLAGS = { 'node-id': 'value' } as const;
const DEFAULT_SIGNAL = 'TERM';
/** The node id of a broker whose configuration names none. */
const DEFAULT_NODE_ID = 0;

interface ServerProcess {
  pid: number;
  /** The words after `server`: the properties file and the overrides. */
  serverArgs: string[];
}

/**
 * The command word that runs Samsa: the `samsa` command, its bin/samsa.js, or the CLI's entry point (compiled or
 * run from source). Only such a word directly followed by `server` counts: nothing else is ever signalled.
 */
function isSamsaEntry(word: string): boolean {
  const name = basename(word);
  if (name === 'samsa' || name === 'samsa.js') return true;
  return /(^|[/\\])cli[/\\]main\.(js|ts)$/.test(word);
}

async function serverProcesses(): Promise<ServerProcess[]> {
  const { stdout } = await promisify(execFile)('ps', ['-ax', '-o', 'pid=,args=']);
  const found: ServerProcess[] = [];
  for (const line of stdout.split('\n')) {
    const words = line.trim().split(/\s+/);
    const pid = Number(words[0]);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const at = words.findIndex((w, i) => i > 0 && isSamsaEntry(w) && words[i + 1] === 'server');
    if (at > 0) found.push({ pid, serverArgs: words.slice(at + 2) });
  }
  return found;
}

/** The node id a server runs with: the last override of node.id or broker.id, else its properties file's. */
async function nodeIdOf(serverArgs: string[]): Promise<number> {
  let fromOverride: number | undefined;
  let file: string | undefined;
  for (let i = 0; i < serverArgs.length; i++) {
    const word = serverArgs[i]!;
    if (word === '--override') {
      const m = /^(node\.id|broker\.id)=(-?\d+)$/.exec(serverArgs[++i] ?? '');
      if (m) fromOverride = Number(m[2]);
    } else if (!word.startsWith('--') && file === undefined) file = word;
  }
  if (fromOverride !== undefined) return fromOverride;
  if (file === undefined) return DEFAULT_NODE_ID;
  try {
    const props = parseProperties(await readFile(file, 'utf8'));
    const id = props.get('node.id')?.value ?? props.get('broker.id')?.value;
    return id !== undefined && /^-?\d+$/.test(id.trim()) ? Number(id) : DEFAULT_NODE_ID;
  } catch {
    // A file that cannot be read (another user's, or removed since): its node id is unknown.
    return Number.NaN;
  }
}

/** `samsa server-stop`: Kafka's kafka-server-stop.sh. Returns the exit code. */
export async function runServerStop(argv: string[]): Promise<number> {
  let nodeId: number | undefined;
  try {
    nodeId = integerFlag(parseFlags(argv, FLAGS), 'node-id', -1);
  } catch (e) {
    return kafkaUsageExit('server-stop', SERVER_STOP_USAGE, e);
  }
  const signal = `SIG${(process.env['SIGNAL'] ?? DEFAULT_SIGNAL).toUpperCase().replace(/^SIG/, '')}` as NodeJS.Signals;
  let targets = await serverProcesses();
  if (nodeId !== undefined) {
    const ids = await Promise.all(targets.map((t) => nodeIdOf(t.serverArgs)));
    targets = targets.filter((_, i) => ids[i] === nodeId);
  }
  if (targets.length === 0) {
    console.log('No kafka server to stop');
    return 1;
  }
  let failed = false;
  for (const t of targets) {
    try {
      process.kill(t.pid, signal);
    } catch (e) {
      // Gone in the meantime, or not ours to signal: reported, as kill(1) would.
      console.error(`samsa server-stop: cannot signal process ${t.pid}: ${(e as Error).message}`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}
