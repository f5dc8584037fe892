"""The status page in a real browser: headless Chromium against the operator's aiohttp app.

The app is the one the operator serves (web/app.py with the status page mounted), on a
localhost port, fed by a StatusPageIndex with watch bodies, branded with a logo and a colour.
The DOM Chromium builds must show the public incident and not the private one, and a hostile
title must stay text, with the page's one (same-origin) script running under its
Content-Security-Policy. Over the DevTools protocol (tests/browser.py) the page is looked at
as people do: at desktop (1280 px) and phone (390 px) widths, light and dark, in another
time zone, with the keyboard, and checked by axe-core for accessibility; the screenshots are
kept under ``test-artifacts/status-page-*.png`` for a human look (CI can upload them).
"""

from __future__ import annotations

import asyncio
import re
import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from incident_operator.domain.uptime import DayMeasure, UptimeComponent
from incident_operator.services.status_page import StatusPageIndex
from incident_operator.services.uptime import UptimeService
from incident_operator.web.alertmanager import AlertmanagerWebhook
from incident_operator.web.app import build_app
from incident_operator.web.status_page import StatusPageEndpoints, StatusPageSettings
from incident_operator.web.status_page_html import SCRIPT_HREF, Look
from tests.browser import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    Tab,
    axe_source,
    axe_violations,
    browser,
    chromium,
    serious,
)
from tests.cluster.controlplane import free_port
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore
from tests.fakes.ports.uptime import FakeDailyHistory
from tests.kube import REPO
from tests.unit.web.test_status_page_catalog_web import service
from tests.unit.web.test_status_page_uptime_web import SLI, slo_body
from tests.unit.web.test_status_page_web import incident, iso, severity, state_changed

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
ARTIFACT = REPO / "test-artifacts" / "status-page.png"
WIDTH, HEIGHT = 1280, 900
HOSTILE = "<script>document.title='owned'</script>Login page broken"


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
    # The catalog: a group of two public components, one with a maintenance under way and
    # one planned (the page's groups and maintenance section are checked by axe too).
    soon = NOW + timedelta(days=2)
    windows = {
        "cards": {"name": "Card network upgrade", "start": iso(NOW - timedelta(minutes=10)),
                  "end": iso(NOW + timedelta(hours=1))},
        "checkout": {"name": "Database upgrade", "description": "Checkout may be slow.",
                     "start": iso(soon), "end": iso(soon + timedelta(hours=1))},
    }  # fmt: skip
    for name, window in windows.items():
        component = {"name": name.title(), "group": "Shop", "public": True}
        index.observe_service(service(name, component=component | {"maintenance": [window]}))
    return index


LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32" width="32" height="32">'
    '<circle cx="16" cy="16" r="14" fill="#ffffff"/><circle cx="16" cy="16" r="8" '
    'fill="#0b5cad"/></svg>'
)
LOOK = Look(logo_url="/brand/logo.svg", brand_colour="#0B5CAD")


async def logo(_: web.Request) -> web.Response:
    return web.Response(text=LOGO, content_type="image/svg+xml")


def uptime(clock: FakeClock) -> UptimeService:
    """Daily bars for payments: 60 days measured, one of them below its 99.9 % objective
    (the figures come from a fake of the metrics port: this test is about the page)."""
    store = FakeStore()
    store.slos[("shop", "payments-availability")] = {
        **slo_body(),
        "metadata": {"name": "payments-availability", "namespace": "shop"},
        "spec": {**slo_body()["spec"], "service": "payments"},
    }
    history = FakeDailyHistory()
    today = NOW.date()
    history.days[SLI] = {
        today - timedelta(days=n): DayMeasure(0.004 if n == 9 else 0.0, 8_640_000)
        for n in range(60)
    }
    return UptimeService(store.list_slos, history, clock, (UptimeComponent("payments", ("shop",)),))


@pytest.fixture
async def url() -> AsyncIterator[str]:
    clock = FakeClock(NOW)
    endpoints = StatusPageEndpoints(
        populated(),
        clock,
        StatusPageSettings(title="Acme Cloud Status", look=LOOK),
        uptime=uptime(clock),
    )
    app = build_app(alertmanager=AlertmanagerWebhook(None, None), status_page=endpoints)
    app.router.add_get("/brand/logo.svg", logo)  # a same-origin logo, as behind an ingress
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
    # The hostile title is text in the DOM, not an element: no script ran or exists but the
    # page's own, from its own origin.
    assert "<script>" not in dom
    assert re.findall(r"<script\b[^>]*>", dom) == [f'<script src="{SCRIPT_HREF}" defer="">']
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


# --- as people look at it (DevTools protocol) ---------------------------------------------

VIEWS = {"desktop": DESKTOP, "phone": PHONE}


def history(url: str) -> str:
    return url + "/history/2026-11"


async def no_horizontal_scroll(tab: Tab, width: int) -> None:
    scroll = await tab.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll} px wide in a {width} px viewport"


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
async def test_screenshots_at_desktop_and_phone_widths(
    url: str, tmp_path: Path, view: str, dark: bool
) -> None:
    """Full-page screenshots under test-artifacts/; nothing wider than the screen."""
    size = VIEWS[view]
    scheme = "-dark" if dark else ""
    async with browser(tmp_path / "profile") as chrome:
        tab = await chrome.tab(size, dark=dark)
        for name, address in (("status-page", url), ("status-page-history", history(url))):
            await tab.goto(address)
            await no_horizontal_scroll(tab, size.width)
            data = await tab.screenshot(ARTIFACTS / f"{name}-{view}{scheme}.png")
            width, height = png_size(data)
            assert width == size.width
            assert height >= size.height or name == "status-page-history"
            assert len(data) > 10_000, "a rendered page, not a blank image"
        background = await tab.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == ("rgb(13, 17, 23)" if dark else "rgb(246, 248, 250)")
        assert tab.console == [], "no CSP refusal, no error"


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
async def test_axe_finds_no_serious_or_critical_violation(
    url: str, tmp_path: Path, view: str, dark: bool
) -> None:
    source = axe_source()
    async with browser(tmp_path / "profile") as chrome:
        tab = await chrome.tab(VIEWS[view], dark=dark)
        for address in (url, history(url), history(url).replace("2026-11", "2026-09")):
            await tab.goto(address)
            violations = await axe_violations(tab, source)
            assert serious(violations) == [], address


async def test_axe_reports_a_page_with_defects(tmp_path: Path) -> None:
    """The check above can fail: axe finds poor contrast and a missing language here."""
    defective = (
        "<!DOCTYPE html><html><head><title>x</title></head><body><main><h1>Status</h1>"
        '<p style="color:#bbb;background:#fff">All Systems Operational</p>'
        '<img src="/nothing.png"></main></body></html>'
    )
    async with browser(tmp_path / "profile") as chrome:
        tab = await chrome.tab(DESKTOP)
        await tab.send("Page.setDocumentContent", frameId=await frame(tab), html=defective)
        found = {v["id"] for v in serious(await axe_violations(tab, axe_source()))}
    assert {"color-contrast", "html-has-lang", "image-alt"} <= found


async def frame(tab: Tab) -> str:
    tree = await tab.send("Page.getFrameTree")
    ident: str = tree["frameTree"]["frame"]["id"]
    return ident


async def test_times_are_shown_in_the_readers_time_zone(url: str, tmp_path: Path) -> None:
    async with browser(tmp_path / "profile") as chrome:
        tab = await chrome.tab(PHONE, time_zone="America/New_York")
        await tab.goto(url)
        times = await tab.evaluate(
            "Array.from(document.querySelectorAll('time[data-local]'), "
            "t => [t.getAttribute('datetime'), t.textContent, t.title])"
        )
        assert times
        # The mitigated payments incident's update: 13:40 UTC is 8:40 in New York (EST).
        assert ["2026-11-27T13:40:00Z", "Nov 27, 08:40 AM EST", "Nov 27, 13:40 UTC"] in times
        # October's are summer time there (EDT): each instant in its own offset.
        assert ["2026-10-18T16:00:00Z", "Oct 18, 12:00 PM EDT", "Oct 18, 16:00 UTC"] in times
        assert all(re.search(r" E[SD]T$", text) for _, text, _ in times)
        assert all(title.endswith(" UTC") for _, _, title in times)
        assert await tab.evaluate("document.title") == "Acme Cloud Status"
        assert await tab.evaluate("document.scripts.length") == 1
        assert tab.console == [], "the script ran under the page's CSP"

        # Without JavaScript the page says UTC, as rendered.
        await tab.send("Emulation.setScriptExecutionDisabled", value=True)
        await tab.goto(url)
        texts = await tab.evaluate(
            "Array.from(document.querySelectorAll('time[data-local]'), t => t.textContent)"
        )
        assert "Nov 27, 13:40 UTC" in texts
        assert all(text.endswith(" UTC") for text in texts)


async def test_keyboard_reaches_the_skip_link_first_with_a_visible_focus(
    url: str, tmp_path: Path
) -> None:
    async with browser(tmp_path / "profile") as chrome:
        tab = await chrome.tab(DESKTOP)
        await tab.goto(url)
        focused = []
        for _ in range(4):
            for kind in ("keyDown", "keyUp"):
                await tab.send(
                    "Input.dispatchKeyEvent",
                    type=kind,
                    key="Tab",
                    code="Tab",
                    windowsVirtualKeyCode=9,
                )
            focused.append(
                await tab.evaluate(
                    "(() => { const e = document.activeElement, s = getComputedStyle(e),"
                    " r = e.getBoundingClientRect();"
                    " return [e.textContent.trim(), s.outlineStyle, parseFloat(s.outlineWidth),"
                    " r.left >= 0 && r.top >= 0 && r.width > 0]; })()"
                )
            )
        assert [text for text, *_ in focused] == [
            "Skip to content",
            "Acme Cloud Status",
            "Current status",
            "History",
        ]
        for text, style, width, on_screen in focused:
            assert style == "solid", text
            assert width >= 2, text
            assert on_screen, text
        # Following the skip link moves the focus into the main content.
        await tab.goto(url)
        await tab.evaluate("document.querySelector('.skip').click()")
        assert await tab.evaluate("document.activeElement.id") == "main"
