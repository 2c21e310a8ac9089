import { readFileSync } from 'node:fs';

// Each command's module is imported when that command runs: a broker does not load the tools, nor a tool the
// broker.
const USAGE = `usage: samsa <command> [options]

commands:
  server           start a broker ([server.properties] [--override key=value ...])
  cluster          start etcd and three brokers on this machine, to try a cluster (stops on Ctrl-C)
  server-stop      stop the brokers started with \`samsa server\` on this machine (as kafka-server-stop.sh)
  topics           create, list, describe, alter and delete topics (as kafka-topics.sh)
  console-producer send lines from standard input as records (as kafka-console-producer.sh)
  console-consumer print records (as kafka-console-consumer.sh)
  consumer-groups  list, describe, reset and delete consumer groups (as kafka-consumer-groups.sh)
  transactions     list and describe transactions and producers, find and abort hanging ones (as kafka-transactions.sh)
  configs          describe and alter topic and broker configs, users' SCRAM credentials (as kafka-configs.sh)
  get-offsets      print partitions' offsets by time (as kafka-get-offsets.sh)
  broker-api-versions  print the API versions of every broker (as kafka-broker-api-versions.sh)
  delete-records   delete records before given offsets (as kafka-delete-records.sh)
  leader-election  elect preferred or unclean partition leaders (as kafka-leader-election.sh)
  reassign-partitions  move partition replicas between brokers (as kafka-reassign-partitions.sh)
  log-dirs         describe the brokers' log directories as JSON (as kafka-log-dirs.sh)
  acls             add, remove and list ACLs (as kafka-acls.sh)
  producer-perf-test  measure producer throughput and latency (as kafka-producer-perf-test.sh)
  consumer-perf-test  measure consumer throughput (as kafka-consumer-perf-test.sh)
  dump-log         print the contents of log segment and index files (as kafka-dump-log.sh)
  version          print the version of Samsa
  help             print this help

Every command also takes --version, as Kafka's tools do.
See README.md for what works today.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // Kafka's tools print the version for --version whatever else is given.
  if (command !== undefined && rest.includes('--version')) {
    console.log(version());
    return 0;
  }
  // Old tutorials pass --zookeeper; Kafka's tools dropped it in 3.0, and Samsa has no ZooKeeper to reach.
  if (
    command !== undefined &&
    command !== 'server' &&
    rest.some((a) => a === '--zookeeper' || a.startsWith('--zookeeper='))
  ) {
    console.error(`samsa ${command}: --zookeeper is not supported; use --bootstrap-server HOST:PORT to reach a broker`);
    return 1;
  }
  switch (command) {
    case 'server':
      return (await import('./server.js')).runServer(rest);
    case 'cluster':
      return (await import('./cluster.js')).runCluster(rest);
    case 'server-stop':
      return (await import('./server-stop.js')).runServerStop(rest);
    case 'topics':
      return (await import('./tools/topics.js')).runTopics(rest);
    case 'console-producer':
      return (await import('./tools/console-producer.js')).runConsoleProducer(rest);
    case 'console-consumer':
      return (await import('./tools/console-consumer.js')).runConsoleConsumer(rest);
    case 'consumer-groups':
      return (await import('./tools/consumer-groups.js')).runConsumerGroups(rest);
    case 'transactions':
      return (await import('./tools/transactions.js')).runTransactions(rest);
    case 'configs':
      return (await import('./tools/configs.js')).runConfigs(rest);
    case 'get-offsets':
      return (await import('./tools/get-offsets.js')).runGetOffsets(rest);
    case 'broker-api-versions':
      return (await import('./tools/broker-api-versions.js')).runBrokerApiVersions(rest);
    case 'delete-records':
      return (await import('./tools/delete-records.js')).runDeleteRecords(rest);
    case 'leader-election':
      return (await import('./tools/leader-election.js')).runLeaderElection(rest);
    case 'reassign-partitions':
      return (await import('./tools/reassign-partitions.js')).runReassignPartitions(rest);
    case 'log-dirs':
      return (await import('./tools/log-dirs.js')).runLogDirs(rest);
    case 'acls':
      return (await import('./tools/acls.js')).runAcls(rest);
    case 'producer-perf-test':
      return (await import('./tools/producer-perf-test.js')).runProducerPerfTest(rest);
    case 'consumer-perf-test':
      return (await import('./tools/consumer-perf-test.js')).runConsumerPerfTest(rest);
    case 'dump-log':
      return (await import('./tools/dump-log.js')).runDumpLog(rest);
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
