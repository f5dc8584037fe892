"""The status page in a real browser: headless Chromium against the operator's aiohttp app.

The app is the one the operator serves (web/app.py with the status page mounted), on a
localhost port, fed by a StatusPageIndex with watch bodies. Chromium renders it without
JavaScript concerns (there is none); the DOM it builds must show the public incident and
not the private one, and a hostile title must stay text. The screenshot is kept under
``test-artifacts/status-page.png`` for a human look (CI can upload it).
"""

from __future__ import annotations

import asyncio
import shutil
import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from incident_operator.services.status_page import StatusPageIndex
from incident_operator.web.alertmanager import AlertmanagerWebhook
from incident_operator.web.app import build_app
from incident_operator.web.status_page import StatusPageEndpoints, StatusPageSettings
from tests.cluster.controlplane import free_port
from tests.fakes.ports.clock import FakeClock
from tests.kube import REPO
from tests.unit.web.test_status_page_web import incident, iso, severity, state_changed

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
ARTIFACT = REPO / "test-artifacts" / "status-page.png"
WIDTH, HEIGHT = 1280, 900
HOSTILE = "<script>document.title='owned'</script>Login page broken"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium not found: run hack/install-deps.sh (Debian package chromium)")
    return found


def populated() -> StatusPageIndex:
    index = StatusPageIndex()
    index.observe_severity(severity("sev-1", "critical"))
    index.observe_severity(severity("sev-3", "minor"))
    index.observe_incident(
        incident(
            "payments-down",
            title="Payments are failing",
            service="payments",
            sev="sev-1",
            phase="mitigated",
            timeline=[state_changed(NOW - timedelta(minutes=20), "investigating", "mitigated")],
        )
    )
    index.observe_incident(
        incident("hostile", title=HOSTILE, service="login", sev="sev-3", phase="triage")
    )
    index.observe_incident(
        incident(
            "vault-leak",
            title="Vault credentials exposed",
            service="vault",
            sev="sev-1",
            private=True,
        )
    )
    for days in (3, 12, 40):
        declared = NOW - timedelta(days=days)
        index.observe_incident(
            incident(
                f"search-{days}",
                title=f"Search degraded ({days} days ago)",
                service="search",
                sev="sev-3",
                phase="closed",
                declared=declared,
                stamps={"resolved": iso(declared + timedelta(hours=2))},
            )
        )
    return index


@pytest.fixture
async def url() -> AsyncIterator[str]:
    endpoints = StatusPageEndpoints(
        populated(), FakeClock(NOW), StatusPageSettings(title="Acme Cloud Status")
    )
    app = build_app(alertmanager=AlertmanagerWebhook(None, None), status_page=endpoints)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/status"
    finally:
        await runner.cleanup()


async def run_chromium(profile: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={profile}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]
    return stdout.decode()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    length, chunk = struct.unpack(">I4s", data[8:16])
    assert (length, chunk) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_chromium_shows_the_public_incidents_and_not_the_private_one(
    url: str, tmp_path: Path
) -> None:
    dom = await run_chromium(tmp_path / "profile", "--dump-dom", url)
    assert "<title>Acme Cloud Status</title>" in dom
    assert "Major System Outage" in dom, "critical payments incident sets the banner"
    assert "Payments are failing" in dom
    assert "A fix has been implemented and we are monitoring the results." in dom
    assert "Search degraded (3 days ago)" in dom
    assert "Search degraded (40 days ago)" in dom
    assert "Vault credentials exposed" not in dom
    assert "vault" not in dom
    # The hostile title is text in the DOM, not an element: no script ran or exists.
    assert "<script>" not in dom
    assert "&lt;script&gt;document.title='owned'&lt;/script&gt;Login page broken" in dom
    assert "owned</title>" not in dom


async def test_chromium_screenshot_is_a_png(url: str, tmp_path: Path) -> None:
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.unlink(missing_ok=True)
    await run_chromium(
        tmp_path / "profile", f"--screenshot={ARTIFACT}", f"--window-size={WIDTH},{HEIGHT}", url
    )
    data = ARTIFACT.read_bytes()
    assert png_size(data) == (WIDTH, HEIGHT)
    assert len(data) > 10_000, "a rendered page, not a blank image"
