"""A jobstream runner over HTTP, standard library only (docs/runners.md "Over HTTP").

    from jobstream_runner import Runner
    runner = Runner.create("http://gateway:8080", token, title="Build web", owner="alice")
    runner.start()
    runner.write("stdout", "Compiling 42 modules")
    runner.finish(0)

Lines are batched (10 ms linger, at most 1,000 a batch) and sent with ``after``, the last seq the
gateway confirmed, so a batch sent again after a lost reply lands once. Network errors, 5xx and
429 are retried with backoff (after ``Retry-After`` when given), through gateway restarts. A
heartbeat goes out every 5 s; ``cancel_requested`` turns true once someone asks the job to stop.
A terminal status names the last seq stored, after every line written before it.
"""

import json
import random
import threading
import time
import urllib.error
import urllib.request

__all__ = ["Runner", "RunnerError"]

MAX_BATCH_LINES = 1000
MAX_BATCH_BYTES = 512 * 1024
LINGER_S = 0.010
HEARTBEAT_S = 5.0


class RunnerError(Exception):
    """The gateway refused a request for good (bad input, the job ended, a token that does not work)."""

    def __init__(self, status, code, message, body=None):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.body = body or {}


class _Client:
    """One POST with retries: network errors, 5xx and 429 are retried with backoff, anything else returned."""

    def __init__(self, base_url, token, give_up_after_s=None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.give_up_after_s = give_up_after_s

    def post(self, path, body):
        started = time.monotonic()
        attempt = 0
        while True:
            wait = min(2.0, 0.05 * 2 ** min(attempt, 10)) * (0.5 + random.random() / 2)
            request = urllib.request.Request(
                self.base_url + path,
                data=json.dumps(body).encode("utf-8"),
                method="POST",
                headers={"Authorization": "Bearer " + self.token, "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status, _json(response.read())
            except urllib.error.HTTPError as error:
                payload = _json(error.read())
                if error.code < 500 and error.code != 429:
                    return error.code, payload
                retry_after = error.headers.get("Retry-After")
                if retry_after and retry_after.isdigit():
                    wait = max(wait, int(retry_after))
            except (urllib.error.URLError, OSError, TimeoutError):
                pass
            if self.give_up_after_s is not None and time.monotonic() - started > self.give_up_after_s:
                raise RunnerError(0, "unreachable", f"the gateway at {self.base_url} did not answer {path}")
            attempt += 1
            time.sleep(wait)


def _json(raw):
    try:
        value = json.loads(raw.decode("utf-8") or "{}")
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {}


def _refused(status, body):
    error = body.get("error") or {}
    return RunnerError(status, error.get("code", "error"), error.get("message", ""), body)


class Runner:
    """One job, written over HTTP. Thread-safe: write() may be called from several threads."""

    def __init__(self, client, job):
        self._client = client
        self.job = job
        self.job_id = job["id"]
        self.last_stored = 0
        self.cancel_requested = False
        self.ended_elsewhere = False
        self._pending = []
        self._lock = threading.Condition()
        self._closed = False
        self._sender = threading.Thread(target=self._send_loop, name="jobstream-sender", daemon=True)
        self._sender.start()
        self._beater = threading.Thread(target=self._heartbeat_loop, name="jobstream-heartbeat", daemon=True)
        self._beater.start()

    @classmethod
    def create(cls, base_url, token, title, owner=None, job_id=None, **fields):
        """Creates the job with a sign-in token (runner, admin, or a user for itself)."""
        body = {"title": title, **fields}
        if owner is not None:
            body["owner"] = owner
        if job_id is not None:
            body["id"] = job_id
        status, answer = _Client(base_url, token, give_up_after_s=30).post("/api/jobs", body)
        if status not in (200, 201):
            raise _refused(status, answer)
        return cls(_Client(base_url, answer["jobToken"]), answer["job"])

    # ---- lines ---------------------------------------------------------------------------------

    def write(self, stream, line):
        """Queues one line ("stdout" or "stderr")."""
        with self._lock:
            self._pending.append({"stream": stream, "line": line})
            self._lock.notify()

    def flush(self):
        """Returns once every line written so far is stored."""
        with self._lock:
            while self._pending and not self.ended_elsewhere:
                self._lock.wait(0.05)

    def _send_loop(self):
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._lock.wait()
                if not self._pending and self._closed:
                    return
            time.sleep(LINGER_S)  # let a burst fill the batch
            with self._lock:
                batch, size = [], 0
                for item in self._pending:
                    if len(batch) >= MAX_BATCH_LINES or (batch and size + len(item["line"]) > MAX_BATCH_BYTES):
                        break
                    batch.append(item)
                    size += len(item["line"])
            self._send(batch)
            with self._lock:
                del self._pending[: len(batch)]
                self._lock.notify_all()

    def _send(self, batch):
        while True:
            status, answer = self._client.post(f"/api/jobs/{self.job_id}/lines", {"after": self.last_stored, "lines": batch})
            if status == 200:
                self.last_stored = answer["lastSeq"]
                self._note_cancel(answer.get("cancelRequestedAt"))
                return
            code = (answer.get("error") or {}).get("code")
            if code == "seq_mismatch" and answer.get("lastSeq", self.last_stored) > self.last_stored:
                self.last_stored = answer["lastSeq"]  # another writer went on: follow it
                continue
            # The job ended (or the token stopped working): nothing more can be stored.
            self.ended_elsewhere = code == "job_finished" or status == 404
            return

    # ---- status, heartbeat, progress -----------------------------------------------------------

    def start(self, **fields):
        self._status("running", fields)

    def finish(self, exit_code, **fields):
        status = "success" if exit_code == 0 else "failed"
        if status == "failed":
            fields.setdefault("errorMessage", f"exit code {exit_code}")
        self._status(status, {"exitCode": exit_code, **fields})

    def cancel(self, reason="cancelled"):
        self._status("cancelled", {"errorMessage": reason})

    def progress(self, text, stream="stdout"):
        """The text of a line still being written (shown live, never stored)."""
        if not self._pending:
            self._client.post(f"/api/jobs/{self.job_id}/progress", {"stream": stream, "line": text})

    def close(self):
        self.flush()
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._sender.join(5)

    def _status(self, status, fields):
        self.flush()
        terminal = status in ("success", "failed", "cancelled")
        body = {"status": status, **fields, **({"lastSeq": self.last_stored} if terminal else {})}
        code, answer = self._client.post(f"/api/jobs/{self.job_id}/status", body)
        if code != 200:
            raise _refused(code, answer)
        self.job = answer
        if terminal:
            self._closed = True

    def _heartbeat_loop(self):
        while not self._closed:
            time.sleep(HEARTBEAT_S)
            if self._closed:
                return
            status, answer = self._client.post(f"/api/jobs/{self.job_id}/heartbeat", {})
            if status == 200:
                self._note_cancel(answer.get("cancelRequestedAt"))
            elif status in (404, 409):
                self.ended_elsewhere = True
                return

    def _note_cancel(self, at):
        if at:
            self.cancel_requested = True
