"""The Python runner against a real gateway: JOBSTREAM_URL, a runner token (JOBSTREAM_TOKEN) and an
admin token to read back (JOBSTREAM_READ_TOKEN), given by scripts/test/python-runner.test.ts."""

import json
import os
import unittest
import urllib.request

from jobstream_runner import Runner, RunnerError

URL = os.environ.get("JOBSTREAM_URL")
TOKEN = os.environ.get("JOBSTREAM_TOKEN")
READ_TOKEN = os.environ.get("JOBSTREAM_READ_TOKEN")


def read(path):
    request = urllib.request.Request(URL + path, headers={"Authorization": "Bearer " + READ_TOKEN})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@unittest.skipUnless(URL and TOKEN and READ_TOKEN, "needs a gateway (run through npm test)")
class RunnerTest(unittest.TestCase):
    def test_every_line_once_in_order_then_the_finish(self):
        runner = Runner.create(URL, TOKEN, title="python lines", owner="alice")
        runner.start()
        for n in range(1, 2501):
            runner.write("stdout" if n % 10 else "stderr", f"line {n}")
        runner.finish(0)
        runner.close()
        page = read(f"/api/jobs/{runner.job_id}/output?since=0&limit=10000")
        self.assertEqual([l["line"] for l in page["lines"]], [f"line {n}" for n in range(1, 2501)])
        self.assertEqual(page["status"], "success")
        self.assertEqual(read(f"/api/jobs/{runner.job_id}")["exitCode"], 0)

    def test_a_batch_sent_again_lands_once(self):
        runner = Runner.create(URL, TOKEN, title="python retry", owner="alice")
        batch = [{"stream": "stdout", "line": "a"}, {"stream": "stdout", "line": "b"}]
        runner._send(batch)
        runner.last_stored = 0  # as if the reply had been lost
        runner._send(batch)
        self.assertEqual(runner.last_stored, 2)
        page = read(f"/api/jobs/{runner.job_id}/output?since=0")
        self.assertEqual([l["line"] for l in page["lines"]], ["a", "b"])
        runner.finish(0)
        runner.close()

    def test_a_refusal_is_an_error_with_its_code(self):
        with self.assertRaises(RunnerError) as raised:
            Runner.create(URL, TOKEN, title="bad", job_id="not a valid id")
        self.assertEqual((raised.exception.status, raised.exception.code), (400, "bad_request"))


if __name__ == "__main__":
    unittest.main()
