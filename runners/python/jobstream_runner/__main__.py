"""python3 -m jobstream_runner run [--title T] [--owner U] [--id J] [--kill-grace S] -- <command…>

Runs a command as a jobstream job over HTTP (JOBSTREAM_URL and JOBSTREAM_TOKEN, or --url and
--token): every line it writes to stdout and stderr is stored, a cancel asked for elsewhere sends
it SIGTERM (then SIGKILL after the grace), and its exit code is passed through.
"""

import argparse
import os
import signal
import subprocess
import sys
import threading
import time

from . import Runner, RunnerError


def _relay(pipe, stream, runner, echo):
    # Bytes in, lines out: a final line without a newline is a line too; invalid UTF-8 is replaced.
    for raw in iter(pipe.readline, b""):
        echo.buffer.write(raw)
        echo.flush()
        line = raw.decode("utf-8", errors="replace")
        runner.write(stream, line[:-1] if line.endswith("\n") else line)
    pipe.close()


def run(args):
    runner = Runner.create(
        args.url,
        args.token,
        title=args.title or " ".join(args.command),
        owner=args.owner,
        job_id=args.id,
    )
    print(f"jobstream_runner: job {runner.job_id}", file=sys.stderr)
    runner.start()
    child = subprocess.Popen(args.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    relays = [
        threading.Thread(target=_relay, args=(child.stdout, "stdout", runner, sys.stdout), daemon=True),
        threading.Thread(target=_relay, args=(child.stderr, "stderr", runner, sys.stderr), daemon=True),
    ]
    for relay in relays:
        relay.start()
    stopped_at = None
    while child.poll() is None:
        if (runner.cancel_requested or runner.ended_elsewhere) and stopped_at is None:
            stopped_at = time.monotonic()
            child.send_signal(signal.SIGTERM)
        if stopped_at is not None and time.monotonic() - stopped_at > args.kill_grace:
            child.kill()
        time.sleep(0.05)
    for relay in relays:
        relay.join()
    code = child.returncode if child.returncode >= 0 else 128 - child.returncode
    try:
        if runner.ended_elsewhere:
            print(f"jobstream_runner: job {runner.job_id} had already ended", file=sys.stderr)
            return 1
        if runner.cancel_requested:
            runner.cancel(f"cancelled on request (exit code {code})")
        else:
            runner.finish(code)
    finally:
        runner.close()
    return code


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m jobstream_runner")
    sub = parser.add_subparsers(dest="action", required=True)
    run_parser = sub.add_parser("run", help="run a command as a job")
    run_parser.add_argument("--url", default=os.environ.get("JOBSTREAM_URL"))
    run_parser.add_argument("--token", default=os.environ.get("JOBSTREAM_TOKEN"))
    run_parser.add_argument("--title")
    run_parser.add_argument("--owner")
    run_parser.add_argument("--id")
    run_parser.add_argument("--kill-grace", type=float, default=10.0)
    run_parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.command:
        parser.error("no command given")
    if not args.url or not args.token:
        parser.error("needs --url and --token (or JOBSTREAM_URL and JOBSTREAM_TOKEN)")
    try:
        return run(args)
    except RunnerError as error:
        print(f"jobstream_runner: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
