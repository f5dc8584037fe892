"""The status page as people expect it, over HTTP: landmarks and headings, the history by
month, branding (validated), the same-origin assets and the Content-Security-Policy. How it
looks and what axe-core says: tests/integration/test_status_page_browser.py."""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from incident_operator.domain.status_page import (
    COMPONENT_LABEL,
    Component,
    ComponentStatus,
    build_page,
)
from incident_operator.services.status_page import StatusPageIndex
from incident_operator.web.status_page import StatusPageSettings
from incident_operator.web.status_page_html import (
    SCRIPT,
    SCRIPT_HREF,
    FooterLink,
    Look,
    Shell,
    brand_colour,
    contrast,
    logo_url,
    month_range,
    parse_month,
    render_history,
    render_html,
    stylesheet,
    stylesheet_href,
    text_on,
)
from tests.unit.web.test_status_page_web import EVIL, NOW, incident, iso, serve, severity

ACME = StatusPageSettings(title="Acme Status", page_id="acme")


def headings(page: str) -> list[int]:
    return [int(level) for level in re.findall(r"<h([1-6])[ >]", page)]


def assert_structure(page: str) -> None:
    """One of each landmark, the skip link first, one h1 first, no heading level skipped."""
    body = page.split("<body>", 1)[1]
    assert body.startswith('<a class="skip" href="#main">Skip to content</a>')
    for landmark in ("<header", "<main", "<footer"):
        assert page.count(landmark) == 1, landmark
    assert '<main id="main" tabindex="-1">' in page
    assert '<nav aria-label="Status page">' in page
    levels = headings(page)
    assert levels[0] == 1
    assert levels.count(1) == 1
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels


async def test_the_page_has_landmarks_ordered_headings_and_a_skip_link(
    client: TestClient[Any, Any],
) -> None:
    page = await (await client.get("/status")).text()
    assert_structure(page)
    assert '<a href="/status" aria-current="page">Current status</a>' in page
    assert '<a href="/status/history">History</a>' in page
    assert '<meta name="color-scheme" content="light dark">' in page
    # Instants are UTC text for readers without JavaScript, marked for the script.
    assert '<time datetime="2026-11-27T13:00:00Z" data-local>Nov 27, 13:00 UTC</time>' in page


async def test_history_redirects_to_the_current_month(client: TestClient[Any, Any]) -> None:
    response = await client.get("/status/history", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/status/history/2026-11"


async def test_history_of_a_month(client: TestClient[Any, Any]) -> None:
    response = await client.get("/status/history/2026-11")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "max-age=30"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = await response.text()
    assert_structure(page)
    assert "<title>November 2026 · Acme Status</title>" in page
    assert "<h1>Incident history: November 2026</h1>" in page
    assert '<a href="/status/history" aria-current="page">History</a>' in page
    assert "Checkout returns 5xx" in page
    assert "Search was slow" in page
    assert page.index("Checkout returns 5xx") < page.index("Search was slow"), "newest first"
    assert headings(page) == [1, 2, 3, 2, 3], "days, then their incidents"
    assert '<a href="/status/history/2026-10" rel="prev">← October 2026</a>' in page
    assert 'rel="next"' not in page, "the current month is the last"
    # Only what the page itself may show.
    assert "Secret breach" not in page
    assert "auth" not in page
    assert "db?" not in page, "timeline notes are internal"
    assert "shop" not in page, "no namespace"


async def test_history_months_within_the_retained_window(client: TestClient[Any, Any]) -> None:
    # 90 days before Nov 27 is Aug 29: August to November have pages.
    october = await (await client.get("/status/history/2026-10")).text()
    assert "No incidents reported in October 2026." in october
    assert 'href="/status/history/2026-09" rel="prev"' in october
    assert 'href="/status/history/2026-11" rel="next"' in october
    august = await (await client.get("/status/history/2026-08")).text()
    assert 'rel="prev"' not in august
    assert 'href="/status/history/2026-09" rel="next"' in august
    for month in ("2026-07", "2026-12", "2025-11", "0001-01", "9999-12"):
        response = await client.get(f"/status/history/{month}")
        assert response.status == 404, month
        assert "the history holds 2026-08 to 2026-11" in await response.text()


@pytest.mark.parametrize(
    "month",
    [
        "2026-13",
        "2026-00",
        "2026-1",
        "26-11",
        "2026-11-01",
        "november",
        "0000-01",
        "\uff12\uff10\uff12\uff16-11",
    ],
)
async def test_a_malformed_month_is_a_bad_request(client: TestClient[Any, Any], month: str) -> None:
    response = await client.get(f"/status/history/{month}")
    assert response.status == 400
    assert "month must be YYYY-MM" in await response.text()


async def test_an_incident_that_ended_inside_the_window_keeps_its_month() -> None:
    index = StatusPageIndex()
    index.observe_severity(severity("sev-2", "major"))
    declared = NOW - timedelta(days=120)  # Jul 30, resolved Sep 3: inside the 90 days
    index.observe_incident(
        incident(
            "long",
            title="Long outage",
            phase="resolved",
            declared=declared,
            stamps={"resolved": iso(NOW - timedelta(days=85))},
        )
    )
    client = await serve(index, ACME)
    try:
        july = await (await client.get("/status/history/2026-07")).text()
        assert (await client.get("/status/history/2026-06")).status == 404
    finally:
        await client.close()
    assert "Long outage" in july
    assert "Jul 30, 2026" in july
    assert 'rel="prev"' not in july


def test_month_parsing_and_range(index: StatusPageIndex) -> None:
    assert parse_month("2026-02").isoformat() == "2026-02-01"
    with pytest.raises(ValueError, match="month must be YYYY-MM"):
        parse_month("2026-2")
    page = index.page(NOW)
    first, last = month_range(page, NOW)
    assert (first.isoformat(), last.isoformat()) == ("2026-08-01", "2026-11-01")
    with pytest.raises(ValueError, match="outside the retained history"):
        render_history(page, parse_month("2026-07"), NOW, shell=Shell("x"))


async def test_the_stylesheet_and_script_are_same_origin_assets(
    client: TestClient[Any, Any],
) -> None:
    page = await (await client.get("/status")).text()
    css_href = re.search(r'<link rel="stylesheet" href="([^"]+)">', page)
    assert css_href is not None
    assert css_href.group(1) == stylesheet_href(Look())
    css = await client.get(css_href.group(1))
    assert css.status == 200
    assert css.content_type == "text/css"
    assert css.headers["Cache-Control"] == "public, max-age=86400"
    assert css.headers["X-Content-Type-Options"] == "nosniff"
    text = await css.text()
    assert css_href.group(1).endswith(hashlib.sha256(text.encode()).hexdigest()[:12])
    assert "prefers-color-scheme:dark" in text
    assert ":focus-visible{outline:3px solid" in text
    script = await client.get(SCRIPT_HREF)
    assert script.status == 200
    assert script.content_type == "text/javascript"
    assert await script.text() == SCRIPT
    assert "innerHTML" not in SCRIPT, "text only: a title cannot become markup"


async def test_branding_logo_colour_and_the_policy_that_allows_the_logo() -> None:
    index = StatusPageIndex()
    look = Look(logo_url="https://cdn.example.com/acme/logo.svg?v=2&x=1", brand_colour="#0B5CAD")
    client = await serve(index, StatusPageSettings(title="Acme Status", look=look))
    try:
        response = await client.get("/status")
        page = await response.text()
        css = await (await client.get(stylesheet_href(look))).text()
        history = await client.get("/status/history/2026-11")
    finally:
        await client.close()
    assert '<img src="https://cdn.example.com/acme/logo.svg?v=2&amp;x=1" alt="">' in page
    assert ":root{--head-bg:#0b5cad;--head-fg:#ffffff}" in css
    policy = response.headers["Content-Security-Policy"]
    assert "img-src 'self' https://cdn.example.com;" in policy
    assert history.headers["Content-Security-Policy"] == policy
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_without_branding_the_page_has_no_logo_and_the_neutral_header() -> None:
    page = render_html(build_page([], NOW), "Status")
    assert "<img" not in page
    assert "--head-bg:var(--surface)" in stylesheet(Look())


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/logo.png",
        "https://cdn.example.com:8443/a/logo.svg?v=1",
        "/static/logo.svg",
        "/logo.png",
    ],
)
def test_logo_urls_that_are_accepted(url: str) -> None:
    assert logo_url(url) == url
    assert Look(logo_url=url).logo_url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example.com/logo.png",  # mixed content
        "javascript:alert(1)",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "//cdn.example.com/logo.png",  # another origin, whichever scheme
        "https://user:pw@cdn.example.com/logo.png",
        "https://localhost/logo.png",
        'https://cdn.example.com/"><script>',
        "https://cdn.example.com/a b.png",
        "logo.png",
        "",
        "/" + "a" * 2048,
    ],
)
def test_logo_urls_that_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="https URL or a /path"):
        logo_url(url)
    if url:
        with pytest.raises(ValueError, match="https URL or a /path"):
            Look(logo_url=url)


@pytest.mark.parametrize(
    "colour", ["red", "#fff", "#12345g", "#1234567", "0b5cad", "#0b5cad;}body{x:y", " #0b5cad"]
)
def test_brand_colours_other_than_rrggbb_are_refused(colour: str) -> None:
    with pytest.raises(ValueError, match="#rrggbb"):
        brand_colour(colour)


def test_the_header_text_contrasts_with_any_brand_colour() -> None:
    """WCAG AA (4.5:1) for the header's text whatever the brand colour, dark or light."""
    assert contrast("#ffffff", "#000000") == pytest.approx(21)
    assert text_on("#0b5cad") == "#ffffff"
    assert text_on("#ffd33d") == "#000000"
    greys = [f"#{v:02x}{v:02x}{v:02x}" for v in range(256)]
    sweep = [f"#{v:06x}" for v in range(0, 0x1000000, 0x050505)]
    for colour in greys + sweep:
        assert contrast(text_on(colour), colour) >= 4.5, colour


def test_the_footer_has_a_spot_for_more_ways_to_subscribe(index: StatusPageIndex) -> None:
    shell = Shell("Status", subscribe=(FooterLink(EVIL, "/status/subscribe?a=1&b=2"),))
    page = render_html(index.page(NOW), "Status", shell=shell)
    footer = page.split("<footer", 1)[1]
    links = re.search(r'<ul id="subscribe"[^>]*>(.*?)</ul>', footer)
    assert links is not None
    assert links.group(1) == (
        '<li><a href="/status/history.atom">history feed (Atom)</a></li>'
        '<li><a href="/status/subscribe?a=1&amp;b=2">'
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co</a></li>"
    )


def test_every_component_status_has_its_colour_and_its_words() -> None:
    page = build_page([], NOW)
    components = tuple(Component(s.value, s, NOW) for s in ComponentStatus)
    html = render_html(replace(page, components=components), "Status")
    css = stylesheet(Look())
    for status in ComponentStatus:
        assert f".{status.value}{{color:var(--" in css, status
        label = COMPONENT_LABEL[status]
        assert f'<span class="{status.value}">{label}</span>' in html, status
