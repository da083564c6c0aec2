"""One headless Chromium for many pages, driven over its DevTools pipe (tests/test_report_browser.py).

Chromium started with ``--remote-debugging-pipe`` reads DevTools commands from its fd 3 and
writes answers and events to its fd 4, each a JSON object ended by a NUL byte: no port, no
websocket library.  Starting Chromium is most of what a page costs (a second or more of CPU
and a few of wall time per start), so the tests start it once and open each page in a new tab.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile


def executable() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "headless Chromium is needed: apt-get install chromium (as .ci/run does)"
    return path


class Chromium:
    def __init__(self, *flags: str, timeout_s: float = 120.0):
        # A profile of its own: two Chromiums on one profile (pytest -n 2) would hand pages to each other.
        self.profile = tempfile.TemporaryDirectory(prefix="ctcsim-chromium-")
        commands_r, commands_w = os.pipe()
        answers_r, answers_w = os.pipe()

        def pipes():  # in the child, before exec: fd 3 reads the commands, fd 4 writes the answers
            a, b = os.dup(commands_r), os.dup(answers_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        # stderr to a file: a pipe nobody reads while the pages load could fill and stall Chromium.
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([executable(), "--headless", "--remote-debugging-pipe",
                                      f"--user-data-dir={self.profile.name}", *flags, "about:blank"],
                                     pass_fds=(3, 4), preexec_fn=pipes, stdout=subprocess.DEVNULL, stderr=self.log)
        os.close(commands_r)
        os.close(answers_w)
        self.commands, self.answers = commands_w, answers_r
        self.timeout_s, self.last_id, self.pending, self.events = timeout_s, 0, b"", []

    def send(self, method: str, session: str | None = None, **params) -> dict:
        """The result of one DevTools command (in a tab's session, if given)."""
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        while True:
            m = self._receive()
            if m.get("id") == self.last_id:
                assert "error" not in m, (method, m["error"])
                return m["result"]
            self.events.append(m)

    def wait_for(self, event: str, session: str) -> dict:
        while True:
            for i, m in enumerate(self.events):
                if m.get("method") == event and m.get("sessionId") == session:
                    return self.events.pop(i)
            self.events.append(self._receive())

    def _receive(self) -> dict:
        import select
        while b"\0" not in self.pending:
            assert select.select([self.answers], [], [], self.timeout_s)[0], "Chromium did not answer"
            chunk = os.read(self.answers, 1 << 20)
            assert chunk, "Chromium closed its pipe: " + self.stderr()[-2000:]
            self.pending += chunk
        line, self.pending = self.pending.split(b"\0", 1)
        return json.loads(line)

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def open(self, url: str, width: int, height: int) -> "Tab":
        """A new tab of ``width`` x ``height`` CSS pixels with ``url`` loaded (its load event handled)."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        tab = Tab(self, target, session)
        tab.send("Page.enable")
        tab.resize(width, height)
        tab.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired", session)
        return tab

    def close(self):
        try:
            self.send("Browser.close")
        finally:
            os.close(self.commands)
            os.close(self.answers)
            self.proc.wait(timeout=self.timeout_s)
            self.log.close()
            self.profile.cleanup()


class Tab:
    def __init__(self, browser: Chromium, target: str, session: str):
        self.browser, self.target, self.session = browser, target, session

    def send(self, method: str, **params) -> dict:
        return self.browser.send(method, self.session, **params)

    def resize(self, width: int, height: int):
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def dom(self) -> str:
        """The page's HTML as its scripts left it (what --dump-dom prints)."""
        return self.send("Runtime.evaluate", expression="document.documentElement.outerHTML",
                         returnByValue=True)["result"]["value"]

    def screenshot(self) -> bytes:
        """The viewport's pixels, PNG."""
        return base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])

    def close(self):
        self.browser.send("Target.closeTarget", targetId=self.target)
