import { readFileSync } from 'node:fs';

const USAGE = `usage: samsa <command> [options]

commands:
  version     print the version of Samsa
  help        print this help

The broker and the Kafka-style tools are being built; see README.md for what works today.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function main(argv: string[]): number {
  const [command] = argv;
  switch (command) {
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

process.exitCode = main(process.argv.slice(2));
