// Writes docs/COMPATIBILITY.md (the public statement of what other projects' test suites say of Samsa) and
// docs/compatibility.json beside it, from the suites' results.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './common.mjs';

// Readings of failures, kept by hand: test name -> why it fails (Samsa's gap, or the suite's environment).
const CAUSES_FILE = join(import.meta.dirname, 'causes.json');

function count(results, status) {
  return results.filter((r) => r.status === status).length;
}

// Table cells hold one line; a pipe would end the cell.
function cell(text) {
  return String(text ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\s+/g, ' ')
    .trim();
}

export function writeReport(suites, { quick, startedAt, finishedAt, samsaCommit }) {
  const causes = existsSync(CAUSES_FILE) ? JSON.parse(readFileSync(CAUSES_FILE, 'utf8')) : {};
  const lines = [
    "# Compatibility: other projects' test suites against Samsa",
    '',
    'Kafka clients ship test suites that they run against a real Kafka broker. `npm run compat` runs three of',
    "them, taken from Debian's packages, against Samsa brokers started for them, and writes this page (and",
    '[compatibility.json](compatibility.json), the same results for programs). Every test is listed: passed, failed',
    'with its first error line, or skipped with its reason. Nothing here is edited by hand except the readings of',
    "failures (`scripts/compat/causes.json`), which say whether a failure is Samsa's and why.",
    '',
    `Last run: ${startedAt} to ${finishedAt}, Samsa at commit ${samsaCommit}${quick ? ', bounded subset (--quick)' : ''}; each suite below says when it ran.`,
    '',
    '| Suite | Passed | Failed | Skipped |',
    '| --- | --- | --- | --- |',
  ];
  for (const suite of suites) {
    const r = suite.results;
    lines.push(
      `| [${suite.suite}](#${suite.suite}) | ${count(r, 'passed')} | ${count(r, 'failed')} | ${count(r, 'skipped')} |`,
    );
  }
  lines.push(
    '',
    'How to run it, what it needs and how long it takes: [scripts/compat/README.md](../scripts/compat/README.md).',
  );
  for (const suite of suites) {
    const r = suite.results;
    lines.push('', `## ${suite.suite}`, '', `- Tests: ${suite.source}`, `- Command: \`${suite.command}\``);
    if (suite.ranAt) lines.push(`- Run: ${suite.ranAt}, Samsa at commit ${suite.samsaCommit}`);
    lines.push(`- Broker settings beyond the defaults: ${suite.broker}`);
    for (const note of suite.notes) lines.push(`- ${note}`);
    const failed = r.filter((x) => x.status === 'failed');
    if (failed.length > 0) {
      lines.push(
        '',
        `### ${suite.suite}: failed (${failed.length})`,
        '',
        '| Test | First error | Reading |',
        '| --- | --- | --- |',
      );
      for (const x of failed)
        lines.push(`| ${cell(x.name)} | ${cell(x.detail)} | ${cell(causes[x.name] ?? 'not yet read')} |`);
    }
    const skipped = r.filter((x) => x.status === 'skipped');
    if (skipped.length > 0) {
      lines.push('', `### ${suite.suite}: skipped (${skipped.length})`, '', '| Test | Reason |', '| --- | --- |');
      for (const x of skipped) lines.push(`| ${cell(x.name)} | ${cell(x.detail)} |`);
    }
    const passed = r.filter((x) => x.status === 'passed');
    if (passed.length > 0) {
      lines.push(
        '',
        `### ${suite.suite}: passed (${passed.length})`,
        '',
        passed.map((x) => `\`${x.name}\``).join(', '),
      );
    }
  }
  writeFileSync(join(REPO, 'docs/COMPATIBILITY.md'), `${lines.join('\n')}\n`);
  const json = { startedAt, finishedAt, samsaCommit, quick, suites };
  writeFileSync(join(REPO, 'docs/compatibility.json'), `${JSON.stringify(json, null, 2)}\n`);
}
