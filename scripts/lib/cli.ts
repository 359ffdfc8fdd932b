/**
 * The command line of every `npm run` program, read the same way: `--help` (or `-h`) prints what
 * the program does and its options and exits 0; an unknown option or a missing value prints the
 * problem and the usage line and exits 2, as Unix tools do, never a stack trace. Words after `--`
 * belong to the program (jobrun's command) and are never read as options.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface CommandLineHelp {
  /** `usage: npm run … -- [options]`, one line. */
  usage: string;
  /** What the program does and what each option means, printed under the usage by `--help`. */
  description: string;
}

type Parsed<T extends ParseArgsConfig> = ReturnType<typeof parseArgs<T>>;

/** Parses `config.args` (default: this process's arguments) as `config` says, or exits as above. */
export function readCommandLine<T extends ParseArgsConfig>(help: CommandLineHelp, config: T): Parsed<T> {
  const argv = config.args ?? process.argv.slice(2);
  const end = argv.indexOf('--');
  const ours = end === -1 ? argv : argv.slice(0, end);
  if (ours.includes('--help') || ours.includes('-h')) {
    process.stdout.write(`${help.usage}\n\n${help.description.trim()}\n`);
    process.exit(0);
  }
  try {
    return parseArgs(config);
  } catch (error) {
    return usageError(help, error instanceof Error ? error.message : String(error));
  }
}

/** Says what is wrong with the command line, and how to write it, and exits 2. */
export function usageError(help: CommandLineHelp, problem: string): never {
  process.stderr.write(`${problem}\n${help.usage}\n(--help says more)\n`);
  process.exit(2);
}
