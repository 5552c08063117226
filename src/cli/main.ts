#!/usr/bin/env node
/** The `resdet` command: one subcommand per job. */
import { readFileSync } from 'node:fs';
import { ResdetError } from '../../postprocess/errors.js';
import { annotateCommand, annotateUsage } from './annotate.js';
import { convertCommand, convertUsage } from './convert.js';
import { datasetCommand, datasetUsage } from './dataset.js';
import { detectCommand, detectUsage } from './detect.js';
import { evalCommand, evalUsage } from './eval.js';
import { mergeCommand, mergeUsage } from './merge.js';
import { quantizeCommand, quantizeUsage } from './quantize.js';
import { UsageError } from './usage.js';

const commands: Record<string, { run: (argv: string[]) => Promise<void>; usage: string }> = {
  annotate: { run: annotateCommand, usage: annotateUsage },
  convert: { run: convertCommand, usage: convertUsage },
  dataset: { run: datasetCommand, usage: datasetUsage },
  detect: { run: detectCommand, usage: detectUsage },
  eval: { run: evalCommand, usage: evalUsage },
  merge: { run: mergeCommand, usage: mergeUsage },
  quantize: { run: quantizeCommand, usage: quantizeUsage },
};

const usage = `usage: resdet <command> [options]

commands:
${Object.values(commands).map((c) => '  ' + c.usage.split('\n')[0]).join('\n')}

resdet <command> --help shows a command's options; resdet --version its version.`;

/** The version in the package.json two folders above this file (dist/src/cli -> the package). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** node:util parseArgs reports unknown options and missing values as TypeErrors with these codes. */
function isParseArgsError(e: unknown): e is Error {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    console.log(`resdet ${version()}`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h') {
    (name ? console.log : console.error)(usage);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`resdet: unknown command '${name}' (commands: ${Object.keys(commands).join(', ')}; resdet --help)`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  // One line for a command line that cannot run: the problem, then the command's usage line.
  const usageLine = `usage: ${command.usage.split('\n')[0]} (resdet ${name} --help for all options)`;
  try {
    await command.run(rest);
    return 0;
  } catch (e) {
    if (e instanceof UsageError || isParseArgsError(e)) {
      console.error(`resdet ${name}: ${e.message.split('\n')[0].replace(/\. To specify a positional.*$/, '')}\n${usageLine}`);
      return 2;
    }
    // Errors of our families name the file and the problem: one line, no stack. Anything else is
    // a bug in resdet, reported as one.
    if (e instanceof ResdetError) {
      console.error(`resdet ${name}: ${e.message}`);
      return (e as { exitCode?: number }).exitCode ?? 1;
    }
    console.error(`resdet ${name}: internal error (please report it): ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
