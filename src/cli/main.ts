import { readFileSync } from 'node:fs';
import { runServer, SERVER_USAGE } from './server.js';
import { runConsoleConsumer } from './tools/console-consumer.js';
import { runConsoleProducer } from './tools/console-producer.js';
import { runConsumerGroups } from './tools/consumer-groups.js';
import { runTopics } from './tools/topics.js';

const USAGE = `usage: samsa <command> [options]

commands:
  server           start a broker (${SERVER_USAGE.replace('usage: samsa server ', '')})
  topics           create, list, describe, alter and delete topics (as kafka-topics.sh)
  console-producer send lines from standard input as records (as kafka-console-producer.sh)
  console-consumer print records (as kafka-console-consumer.sh)
  consumer-groups  list, describe, reset and delete consumer groups (as kafka-consumer-groups.sh)
  version          print the version of Samsa
  help             print this help

See README.md for what works today.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'server':
      return runServer(rest);
    case 'topics':
      return runTopics(rest);
    case 'console-producer':
      return runConsoleProducer(rest);
    case 'console-consumer':
      return runConsoleConsumer(rest);
    case 'consumer-groups':
      return runConsumerGroups(rest);
    case 'version':
    case '--version':
      console.log(version());
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      console.error(`samsa: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
