/**
 * `jobstream`: follow jobs from a terminal (docs/cli.md). One module per command; this one reads
 * the command line, runs the command, and turns every failure into one line on stderr and an exit
 * code (exit-codes.ts), never a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isJobStatus, JOB_STATUSES } from '../../../shared/job.js';
import { loadCredentials } from './credentials.js';
import { CliError, EXIT } from './exit-codes.js';
import { GatewayApi } from './gateway-api.js';
import { colorWanted, flushed, Printer } from './terminal.js';

const USAGE = `usage: jobstream <command> [options]

  login <url> [--token T]        sign in to the gateway at <url> (token from --token, stdin or a prompt)
  logout                         forget the saved token
  ls [--status S] [--search Q] [--limit N]
                                 jobs, newest first
  logs <id> [-f] [--since N | --tail N]
                                 a job's output; -f follows it until it ends and exits with its outcome
  watch <id…> | --running [--tail N | --since N]
                                 several jobs live over one connection, each line behind its job's id
  search <id> <text> [--limit N] the job's lines containing <text> (any case, colours ignored)
  cancel <id>                    ask the job's runner to stop it
  run [--title T] [--pty] -- <command…>
                                 run a command as a job through the gateway; its exit code passes through

Every command: --json (one object per line), --color / --no-color (default: colour on a terminal,
unless NO_COLOR is set), -h / --help.
Signed in by \`jobstream login\`, or by JOBSTREAM_URL and JOBSTREAM_TOKEN (they win).
Exit codes: 0 success; 1 the job failed (or the command could not do it); 2 the job's runner was
lost; 130 cancelled or interrupted; 64 usage; 66 no such job; 69 gateway unreachable; 77 not signed in.`;

const COMMON = {
  json: { type: 'boolean' },
  color: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

function read<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\n${USAGE}`, EXIT.usage);
  }
}

/** A whole number ≥ 0 from an option, or a usage error naming it. */
function wholeNumber(text: string | undefined, what: string, least = 0): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < least)
    throw new CliError(`${what} must be a whole number ≥ ${least}, not "${text}"`, EXIT.usage);
  return Number(text);
}

/** Where to start a log: after line `--since N`, or its last `--tail N` lines (not both). */
function position(since: string | undefined, tail: string | undefined) {
  if (since !== undefined && tail !== undefined)
    throw new CliError('--since and --tail do not go together', EXIT.usage);
  return { since: wholeNumber(since, '--since'), tail: wholeNumber(tail, '--tail') };
}

function exactly(positionals: string[], names: string[]): string[] {
  if (positionals.length !== names.length)
    throw new CliError(
      `expected ${names.map((n) => `<${n}>`).join(' ') || 'no arguments'}, got ${positionals.length ? positionals.map((p) => `"${p}"`).join(' ') : 'none'}\n(jobstream --help says more)`,
      EXIT.usage,
    );
  return positionals;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? EXIT.usage : EXIT.success;
  }
  // `run`'s words after `--` are the command's, never ours.
  const end = rest.indexOf('--');
  const ours = command === 'run' && end !== -1 ? rest.slice(0, end) : rest;
  const theirs = command === 'run' && end !== -1 ? rest.slice(end + 1) : [];
  const parsed = read(ours, optionsOf(command));
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.success;
  }
  const colorFlag = values['no-color'] ? false : values.color ? true : undefined;
  const printer = new Printer(colorWanted(colorFlag, process.stdout), values.json === true);
  const text = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);

  // Each command's module is loaded when it runs: `ls` or `--help` never load the WebSocket client
  // or the runner (docs/cli.md "Start-up").
  switch (command) {
    case 'login': {
      const [url] = exactly(parsed.positionals, ['url']);
      const { login } = await import('./login.js');
      return login(printer, { url: url ?? '', token: text('token') });
    }
    case 'logout':
      exactly(parsed.positionals, []);
      return (await import('./login.js')).logout(printer);
    case 'ls': {
      exactly(parsed.positionals, []);
      const status = text('status');
      if (status !== undefined && !isJobStatus(status))
        throw new CliError(`--status must be one of ${JOB_STATUSES.join(', ')}`, EXIT.usage);
      const q = text('search');
      const { ls } = await import('./commands.js');
      return ls(new GatewayApi(loadCredentials()), printer, {
        ...(status ? { status } : {}),
        ...(q ? { q } : {}),
        limit: wholeNumber(text('limit'), '--limit', 1) ?? 20,
      });
    }
    case 'logs': {
      const [id] = exactly(parsed.positionals, ['id']);
      const { since, tail } = position(text('since'), text('tail'));
      const credentials = loadCredentials();
      const { logs } = await import('./logs.js');
      return logs(new GatewayApi(credentials), credentials, printer, {
        id: id ?? '',
        follow: values.follow === true,
        since,
        tail,
      });
    }
    case 'watch': {
      const running = values.running === true;
      if (running === parsed.positionals.length > 0)
        throw new CliError('watch takes job ids or --running (one of them)', EXIT.usage);
      const { since, tail } = position(text('since'), text('tail'));
      const credentials = loadCredentials();
      const { watch } = await import('./watch.js');
      return watch(new GatewayApi(credentials), credentials, printer, {
        ids: [...new Set(parsed.positionals)],
        running,
        since,
        tail: tail ?? 10,
      });
    }
    case 'search': {
      const [id, query] = exactly(parsed.positionals, ['id', 'text']);
      const { search } = await import('./commands.js');
      return search(new GatewayApi(loadCredentials()), printer, {
        id: id ?? '',
        text: query ?? '',
        limit: wholeNumber(text('limit'), '--limit', 1) ?? 1000,
      });
    }
    case 'cancel': {
      const [id] = exactly(parsed.positionals, ['id']);
      const { cancel } = await import('./commands.js');
      return cancel(new GatewayApi(loadCredentials()), printer, { id: id ?? '' });
    }
    case 'run': {
      exactly(parsed.positionals, []);
      const [program, ...args] = theirs;
      if (program === undefined)
        throw new CliError('run needs a command after --: jobstream run -- make test', EXIT.usage);
      const { run } = await import('./run.js');
      return run(loadCredentials(), {
        command: program,
        args,
        title: text('title'),
        pty: values.pty === true,
      });
    }
    default:
      throw new CliError(`unknown command "${command}"\n${USAGE}`, EXIT.usage);
  }
}

/** Each command's own options (besides the common ones). */
function optionsOf(command: string): NonNullable<ParseArgsConfig['options']> {
  switch (command) {
    case 'login':
      return { token: { type: 'string' } };
    case 'ls':
      return { status: { type: 'string' }, search: { type: 'string' }, limit: { type: 'string' } };
    case 'logs':
      return { follow: { type: 'boolean', short: 'f' }, since: { type: 'string' }, tail: { type: 'string' } };
    case 'watch':
      return { running: { type: 'boolean' }, since: { type: 'string' }, tail: { type: 'string' } };
    case 'search':
      return { limit: { type: 'string' } };
    case 'run':
      return { title: { type: 'string' }, pty: { type: 'boolean' } };
    default:
      return {};
  }
}

// A reader that goes away (`jobstream logs 42 | head`) ends the program quietly, as cat does.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(EXIT.success);
  throw error;
});

/** Exits once stdout and stderr have written everything (a pipe is written asynchronously). */
async function exit(code: number): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

main(process.argv.slice(2)).then(exit, (error: unknown) => {
  if (error instanceof CliError) {
    process.stderr.write(`jobstream: ${error.message}\n`);
    return exit(error.exitCode);
  }
  process.stderr.write(
    `jobstream: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return exit(EXIT.failed);
});
