#!/usr/bin/env node
/** The `resdet` command: one subcommand per job. */
import { convertCommand, convertUsage } from './convert.js';
import { datasetCommand, datasetUsage } from './dataset.js';
import { detectCommand, detectUsage } from './detect.js';
import { evalCommand, evalUsage } from './eval.js';
import { ResdetError } from '../../postprocess/errors.js';
import { UsageError } from './usage.js';

const commands: Record<string, { run: (argv: string[]) => Promise<void>; usage: string }> = {
  convert: { run: convertCommand, usage: convertUsage },
  dataset: { run: datasetCommand, usage: datasetUsage },
  detect: { run: detectCommand, usage: detectUsage },
  eval: { run: evalCommand, usage: evalUsage },
};

const usage = `usage: resdet <command> [options]

commands:
${Object.values(commands).map((c) => '  ' + c.usage.split('\n')[0]).join('\n')}

resdet <command> --help shows a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(usage);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`resdet: unknown command '${name}'\n\n${usage}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  try {
    await command.run(rest);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`resdet ${name}: ${e.message}\n\n${e.usage}`);
      return 2;
    }
    // Errors of our families name the file and the problem: one line, no stack. Anything else is
    // a bug in resdet, reported as one.
    if (e instanceof ResdetError) console.error(`resdet ${name}: ${e.message}`);
    else console.error(`resdet ${name}: internal error (please report it): ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
