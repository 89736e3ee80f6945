"""One page in headless Chromium, driven over the DevTools protocol on a pipe
(`--remote-debugging-pipe`: commands in on fd 3, replies out on fd 4, each JSON ending in NUL).
Standard library only."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
         "--remote-debugging-pipe", "--window-size=1600,1000"]


def chromium_binary() -> str | None:
    """Path of Debian's `chromium` (or a `chromium-browser`/`google-chrome`) if installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


class Page:
    """A browser with one page; `with Page(url) as page:` opens `url` and waits for its load."""

    def __init__(self, url: str, timeout: float = 60) -> None:
        self.url, self.timeout, self.next_id = url, timeout, 0
        self.buffer = b""

    def __enter__(self) -> Page:
        binary = chromium_binary()
        if binary is None:
            raise RuntimeError("no Chromium on PATH: apt-get install chromium (make chromium)")
        self.profile = tempfile.TemporaryDirectory(prefix="chromium-")
        to_browser, self.commands = os.pipe()
        self.replies, from_browser = os.pipe()
        # Copies above 4, so that placing them on 3 and 4 in the child never overwrites one.
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser, from_browser)]
        for fd in (to_browser, from_browser):
            os.close(fd)

        def pipe_fds() -> None:  # in the child: the protocol's fixed descriptors 3 and 4
            os.dup2(ends[0], 3)
            os.dup2(ends[1], 4)

        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile.name}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            close_fds=False, preexec_fn=pipe_fds)
        for fd in ends:
            os.close(fd)
        target = self.send("Target.createTarget", url=self.url)["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.wait_for(f"location.href === {json.dumps(self.url)} "
                      "&& document.readyState === 'complete'")
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()
        os.close(self.commands)
        os.close(self.replies)
        self.profile.cleanup()

    def send(self, method: str, session: str | None = None, **params: object) -> dict:
        """Send one command and return its result (events in between are skipped)."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.replies], [], [], left)[0]:
                raise TimeoutError(f"Chromium did not answer within {self.timeout} s")
            chunk = os.read(self.replies, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium exited: " + self.proc.stderr.read().decode()[-2000:])
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def evaluate(self, expression: str) -> object:
        """The JSON value of a page expression (a promise is awaited); a JS error raises."""
        result = self.send("Runtime.evaluate", self.session, expression=expression,
                           awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description", details["text"]))
        return result["result"].get("value")

    def wait_for(self, condition: str, timeout: float = 30) -> None:
        """Poll a page expression until it is true."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"Boolean({condition})"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{condition} still false after {timeout} s")
            time.sleep(0.1)

    def screenshot(self, path: str | os.PathLike) -> None:
        """The visible page as a PNG file."""
        data = self.send("Page.captureScreenshot", self.session, format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))
