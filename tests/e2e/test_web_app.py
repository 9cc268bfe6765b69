"""`music-emotion app` as a person uses it: headless Chromium opens the page, uploads a song through the file
input, presses Predict and sees the song's row. Chromium is driven over its DevTools protocol (no Selenium).
Writes the git-ignored screenshot `screenshots/web_app_prediction.png` that the README describes."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tests.audio_fixtures import tone, write_audio
from tests.serving.test_serving import SETTINGS, tiny_model

from .conftest import PROJECT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's `chromium` package")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds:g} s")


class DevTools:
    """The few DevTools calls the test needs, over one websocket to one page."""

    def __init__(self, socket_) -> None:
        self.socket, self.next_id = socket_, 0

    async def call(self, method: str, **params):
        self.next_id += 1
        await self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(await self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression: str):
        return (await self.call("Runtime.evaluate", expression=expression, returnByValue=True))["result"].get("value")

    async def wait_for(self, expression: str, seconds: float):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.5)
        raise AssertionError(f"never true within {seconds:g} s: {expression}")


async def _upload_and_predict(debug_port: int, page_url: str, song: Path, shot: Path) -> str:
    import websockets

    targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{debug_port}/json", timeout=5).read())
    ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
    async with websockets.connect(ws_url, max_size=2**26) as ws:
        tools = DevTools(ws)
        await tools.call("Page.enable")
        await tools.call("Page.navigate", url=page_url)
        await tools.wait_for("document.querySelector('input[type=file]') !== null", 60)
        document = await tools.call("DOM.getDocument", depth=-1, pierce=True)
        node = await tools.call("DOM.querySelector", nodeId=document["root"]["nodeId"], selector="input[type=file]")
        await tools.call("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(song)])
        await tools.wait_for(f"document.body.innerText.includes({json.dumps(song.name)})", 60)  # upload shown
        await tools.evaluate("[...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'Predict')"
                             ".click()")
        text = await tools.wait_for(
            "(() => { const t = document.body.innerText; "
            "return /happy \\/ excited|angry \\/ tense|sad \\/ depressed|calm \\/ relaxed/.test(t) ? t : ''; })()", 90)
        await asyncio.sleep(1.0)  # let the plots draw
        await tools.call("Emulation.setDeviceMetricsOverride", width=1400, height=1800, deviceScaleFactor=1,
                         mobile=False)
        image = await tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        shot.write_bytes(base64.b64decode(image["data"]))
        return text


def test_upload_a_song_and_see_its_prediction(tmp_path):
    from music_emotion.serving.model_folder import write_model_folder

    folder = write_model_folder(tiny_model(), tmp_path / "model", SETTINGS, "---\nlicense: mit\n---\n# tiny\n")
    song = write_audio(tmp_path / "my song.wav",
                       np.concatenate([tone(2.0, 8000, 1, 300), tone(1.5, 8000, 1, 900)]), 8000)
    port, debug_port = _free_port(), _free_port()
    env = {**os.environ, "MUSIC_EMOTION_NO_PROGRESS": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    app = subprocess.Popen([sys.executable, "-m", "music_emotion", "app", "--model", str(folder), "--port", str(port),
                            "--device", "cpu"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    browser = None
    try:
        _wait_http(f"http://127.0.0.1:{port}/", 120)
        browser = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                    "--no-first-run", "--disable-background-networking", "--disable-extensions",
                                    "--mute-audio", f"--user-data-dir={tmp_path / 'profile'}",
                                    f"--remote-debugging-port={debug_port}", "--window-size=1400,1800", "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_http(f"http://127.0.0.1:{debug_port}/json/version", 60)
        screenshots = PROJECT / "screenshots"
        screenshots.mkdir(exist_ok=True)
        shot = screenshots / "web_app_prediction.png"
        text = asyncio.run(_upload_and_predict(debug_port, f"http://127.0.0.1:{port}/", song, shot))
    finally:
        for process in (browser, app):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    table = text[text.index("predictions"):]  # the table, below the upload box
    assert "my song.wav" in table and re.search(r"\bok\b", table), table[:2000]
    assert shot.stat().st_size > 20_000
    log = app.stdout.read()
    assert "Traceback" not in log, log[-3000:]
    assert f"http://127.0.0.1:{port}" in log  # bound to this machine only
