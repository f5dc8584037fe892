"""Headless Chromium driven over the Chrome DevTools Protocol, with aiohttp's websocket.

Enough of the protocol for the status page's browser tests: open a tab at a given viewport,
colour scheme and time zone, load a URL, evaluate JavaScript, take a full-page screenshot,
and collect what the console reported (a Content-Security-Policy refusal, an uncaught
exception). axe-core is injected with :meth:`Tab.evaluate` (:func:`axe_source`): it comes
from npm, installed outside the clone by hack/install-node-tools.sh (``make deps``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.kube import REPO

TIMEOUT = 60.0


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium not found: run hack/install-deps.sh (Debian package chromium)")
    return found


def axe_source() -> str:
    """axe.min.js of the pinned axe-core; installed (or found cached) by the repo's script."""
    script = REPO / "hack" / "install-node-tools.sh"
    try:
        done = subprocess.run([script], check=True, capture_output=True, text=True, timeout=300)
    except subprocess.CalledProcessError as exc:
        pytest.fail(
            f"{script} failed (npm registry unreachable and nothing cached?):\n{exc.stderr}"
        )
    path = Path(done.stdout.strip().splitlines()[-1]) / "node_modules/axe-core/axe.min.js"
    return path.read_text()


@dataclass(frozen=True)
class Viewport:
    width: int
    height: int
    mobile: bool = False


DESKTOP = Viewport(1280, 900)
PHONE = Viewport(390, 844, mobile=True)
"""A phone's CSS pixels (an iPhone 12 to 15)."""


@dataclass
class Tab:
    browser: Browser
    session: str
    console: list[str] = field(default_factory=list)
    """Console messages, log entries and uncaught exceptions, as text."""

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        return await self.browser.send(method, params, session=self.session)

    async def goto(self, url: str) -> None:
        loaded = self.browser.expect(self.session, "Page.loadEventFired")
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(loaded, TIMEOUT)

    async def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` (awaited when it is a promise), as JSON."""
        answer = await self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in answer:
            raise AssertionError(f"page raised: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    async def screenshot(self, path: Path) -> bytes:
        """The whole page (not only the viewport) as PNG, written to ``path``."""
        metrics = await self.send("Page.getLayoutMetrics")
        size = metrics["cssContentSize"]
        shot = await self.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        )
        data = base64.b64decode(shot["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data


class Browser:
    """One headless Chromium process and its DevTools websocket."""

    def __init__(self, process: asyncio.subprocess.Process, ws: Any, http: Any) -> None:
        self._process = process
        self._ws = ws
        self._http = http
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._waiters: list[tuple[str, str, asyncio.Future[dict[str, Any]]]] = []
        self.tabs: dict[str, Tab] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
                continue
            session, method = data.get("sessionId", ""), data.get("method", "")
            tab = self.tabs.get(session)
            if tab is not None:
                tab.console.extend(_console_text(method, data.get("params", {})))
            for waiter in [w for w in self._waiters if w[:2] == (session, method)]:
                self._waiters.remove(waiter)
                if not waiter[2].done():
                    waiter[2].set_result(data.get("params", {}))

    def expect(self, session: str, method: str) -> asyncio.Future[dict[str, Any]]:
        """A future for the next ``method`` event of ``session`` (ask before causing it)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.append((session, method, future))
        return future

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: str = ""
    ) -> dict[str, Any]:
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        await self._ws.send_str(json.dumps(message))
        answer = await asyncio.wait_for(future, TIMEOUT)
        if "error" in answer:
            raise AssertionError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    async def tab(
        self,
        viewport: Viewport,
        *,
        dark: bool = False,
        time_zone: str = "UTC",
    ) -> Tab:
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        tab = Tab(self, attached["sessionId"])
        self.tabs[tab.session] = tab
        for domain in ("Page", "Runtime", "Log"):
            await tab.send(f"{domain}.enable")
        await tab.send(
            "Emulation.setDeviceMetricsOverride",
            width=viewport.width,
            height=viewport.height,
            deviceScaleFactor=1,
            mobile=viewport.mobile,
        )
        await tab.send("Emulation.setScrollbarsHidden", hidden=True)  # as on a phone
        scheme = "dark" if dark else "light"
        await tab.send(
            "Emulation.setEmulatedMedia",
            features=[{"name": "prefers-color-scheme", "value": scheme}],
        )
        await tab.send("Emulation.setTimezoneOverride", timezoneId=time_zone)
        await tab.send("Emulation.setLocaleOverride", locale="en-US")
        return tab

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.send("Browser.close")
        await self._ws.close()
        await self._http.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        try:
            await asyncio.wait_for(self._process.wait(), 10)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()


def _console_text(method: str, params: dict[str, Any]) -> list[str]:
    if method == "Log.entryAdded":
        entry = params.get("entry", {})
        if str(entry.get("url", "")).endswith("/favicon.ico"):
            return []  # the browser asks every site for one; none is not an error of the page
        return [f"{entry.get('level')}: {entry.get('text')} {entry.get('url', '')}".rstrip()]
    if method == "Runtime.consoleAPICalled":
        texts = [str(a.get("value", a.get("description", ""))) for a in params.get("args", [])]
        return [f"{params.get('type')}: {' '.join(texts)}"]
    if method == "Runtime.exceptionThrown":
        return [f"exception: {params.get('exceptionDetails', {})}"]
    return []


@contextlib.asynccontextmanager
async def browser(profile: Path) -> AsyncIterator[Browser]:
    """Headless Chromium on a free DevTools port, closed (and waited for) afterwards."""
    process = await asyncio.create_subprocess_exec(
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "TZ": "UTC"},
    )
    assert process.stderr is not None
    seen: list[str] = []
    url = ""
    try:
        while not url:
            line = await asyncio.wait_for(process.stderr.readline(), TIMEOUT)
            if not line:
                raise AssertionError("chromium exited:\n" + "".join(seen[-40:]))
            seen.append(line.decode(errors="replace"))
            found = re.search(r"DevTools listening on (ws://\S+)", seen[-1])
            url = found.group(1) if found else ""
    except BaseException:
        process.kill()
        await process.wait()
        raise
    # Chromium keeps logging to stderr: drain it, or a full pipe would stall the browser.
    drain = asyncio.create_task(_drain(process.stderr))
    http = aiohttp.ClientSession()
    ws = await http.ws_connect(url, max_msg_size=0)
    driver = Browser(process, ws, http)
    try:
        yield driver
    finally:
        await driver.close()
        drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drain


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


AXE_RUN = """
axe.run(document, {resultTypes: ["violations"]}).then(function (result) {
  return result.violations.map(function (v) {
    return {id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(function (n) {
              return n.target.join(" ") + ": " + n.failureSummary;
            })};
  });
})
"""
"""Every axe-core rule on the loaded page; the violations, as plain data."""


async def axe_violations(tab: Tab, source: str) -> list[dict[str, Any]]:
    await tab.evaluate(source + "\n;true")
    result: list[dict[str, Any]] = await tab.evaluate(AXE_RUN)
    return result


def serious(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v.get("impact") in ("serious", "critical")]


ARTIFACTS = REPO / "test-artifacts"
