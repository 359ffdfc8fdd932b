/**
 * The command `jobrun` runs, started either with its stdout and stderr on pipes of their own
 * (kept apart, read as their bytes arrive) or under a pseudo-terminal (`--pty`): one stream in
 * exactly the order written, and tools colour and animate as in a terminal. The pseudo-terminal
 * is util-linux's `script` (in every Debian and most Linux installs), not a terminal of our own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';

export interface CommandOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The command could not be started; `exitCode` and `message` are what a shell would say. */
  notStarted?: { exitCode: number; message: string };
}

export interface RunningCommand {
  /** The command's output: stdout (and, under a pty, stderr too, in order). */
  stdout: Readable;
  /** Its stderr, or null under a pty (one stream). */
  stderr: Readable | null;
  /** Sends `signal` to the command (under a pty, to its process group, as a terminal does). */
  signal(signal: NodeJS.Signals): void;
  /** Resolves once the command ended and all its output was read. */
  outcome: Promise<CommandOutcome>;
}

export interface PtyOptions {
  columns: number;
  rows: number;
}

/** The window a pty gets: the terminal's own when jobrun runs in one, else 120×40. */
export function ptySize(stream: NodeJS.WriteStream = process.stdout): PtyOptions {
  return stream.isTTY && stream.columns > 0
    ? { columns: stream.columns, rows: stream.rows }
    : { columns: 120, rows: 40 };
}

/** `word` as one POSIX shell word. */
export const shellQuote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;

export function startCommand(
  command: string,
  args: readonly string[],
  pty: PtyOptions | null,
): RunningCommand {
  return pty ? startUnderPty(command, args, pty) : startOnPipes(command, args);
}

function startOnPipes(command: string, args: readonly string[]): RunningCommand {
  const child = spawn(command, args, { stdio: ['inherit', 'pipe', 'pipe'] });
  return {
    stdout: child.stdout,
    stderr: child.stderr,
    signal: (signal) => child.kill(signal),
    outcome: outcomeOf(child, (error) => {
      // What a shell says (bash: "command not found" is 127, "Permission denied" 126).
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { exitCode: 127, message: `${command}: command not found` };
      if (code === 'EACCES') return { exitCode: 126, message: `${command}: Permission denied` };
      return { exitCode: 127, message: `${command}: ${error.message}` };
    }),
  };
}

function startUnderPty(
  command: string,
  args: readonly string[],
  { columns, rows }: PtyOptions,
): RunningCommand {
  // `script` runs the line with $SHELL: /bin/sh, so the quoting below is POSIX whatever the
  // user's shell; the command gets the user's SHELL back. `exec` makes the command the pty's
  // session leader (a missing one gets the shell's own message and 127).
  const userShell = process.env.SHELL;
  const line = [
    `stty cols ${columns} rows ${rows} 2>/dev/null;`,
    userShell ? `SHELL=${shellQuote(userShell)}; export SHELL;` : 'unset SHELL;',
    'exec',
    ...[command, ...args].map(shellQuote),
  ].join(' ');
  const term = process.env.TERM && process.env.TERM !== 'dumb' ? process.env.TERM : 'xterm-256color';
  const child = spawn('script', ['--quiet', '--return', '--flush', '--command', line, '/dev/null'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SHELL: '/bin/sh', TERM: term },
  });
  return {
    stdout: child.stdout,
    stderr: null,
    signal: (signal) => {
      // The command leads its own session under `script`: signal its process group, as a
      // terminal's Ctrl-C does. (`script` itself would kill it outright on SIGTERM.)
      const leader = ptyLeader(child);
      if (leader === null) child.kill(signal);
      else process.kill(-leader, signal);
    },
    // `script`'s own complaints (no such program as `script`) are its stderr: shown, not stored.
    outcome: (() => {
      child.stderr.pipe(process.stderr, { end: false });
      return outcomeOf(child, (error) => ({
        exitCode: 127,
        message: `script (util-linux, for --pty): ${error.message}`,
      }));
    })(),
  };
}

/** The pid of the process `script` started (the command), or null when it has none (yet, or any more). */
function ptyLeader(script: ChildProcess): number | null {
  if (script.pid === undefined) return null;
  try {
    const children = readFileSync(`/proc/${script.pid}/task/${script.pid}/children`, 'utf8').trim();
    const first = Number(children.split(' ')[0]);
    return Number.isInteger(first) && first > 0 ? first : null;
  } catch {
    return null;
  }
}

function outcomeOf(
  child: ChildProcess,
  notStarted: (error: Error) => NonNullable<CommandOutcome['notStarted']>,
): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, notStarted: notStarted(error) }));
    // 'close', not 'exit': every byte of stdout and stderr has been read by then.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}
