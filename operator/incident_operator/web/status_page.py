"""``GET /status`` (HTML), its history as Atom (``FEED_PATH``, per component
``COMPONENT_FEED_PATH``) and Statuspage-compatible ``/api/v2/*.json`` (``JSON_ROUTES``), and,
with public components configured, their uptime bars in the HTML and on ``/status/uptime.json``
(figures from services/uptime.py, read from Prometheus in the background, never per view).

Read-only, served from the watch-fed index (services/status_page.py): a page view costs no
API call. The HTML is rendered on the server with no JavaScript, so it works in any browser,
reader and text client, and every piece of text from an object (titles, service names) and
from the settings goes through ``html.escape`` — incident titles are written by anyone who
may create an Incident, and the page is public. Status is never told by colour alone: every
coloured mark carries its words. Responses may be cached for 30 s (as Statuspage's are), which
bounds the work a crowd refreshing the page during an outage can cause.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from aiohttp import web

from incident_operator.adapters.ports import Clock
from incident_operator.domain import status_feed
from incident_operator.domain import status_page as sp
from incident_operator.domain import uptime as up
from incident_operator.domain.comms import Impact
from incident_operator.domain.times import iso
from incident_operator.services.uptime import UptimeSnapshot

HTML_PATH = "/status"
SUMMARY_PATH = "/api/v2/summary.json"
STATUS_PATH = "/api/v2/status.json"
INCIDENTS_PATH = "/api/v2/incidents.json"
UPTIME_PATH = "/status/uptime.json"
"""Ours, not Statuspage's: the uptime bars as JSON (``?days=1..90``, default 90)."""
FEED_PATH = "/status/history.atom"
COMPONENT_FEED_PATH = "/status/components/{component}/history.atom"
"""The history as Atom (domain/status_feed.py): every public incident, or one component's."""
JSON_ROUTES: dict[str, Callable[[sp.Page, sp.Site], dict[str, Any]]] = {
    SUMMARY_PATH: sp.summary_json,
    STATUS_PATH: sp.status_json,
    "/api/v2/components.json": sp.components_json,
    INCIDENTS_PATH: sp.incidents_json,
    "/api/v2/incidents/unresolved.json": sp.unresolved_incidents_json,
    "/api/v2/scheduled-maintenances.json": sp.scheduled_maintenances_json,
    "/api/v2/scheduled-maintenances/upcoming.json": sp.upcoming_maintenances_json,
    "/api/v2/scheduled-maintenances/active.json": sp.active_maintenances_json,
}
"""Every public Statuspage v2 endpoint (the ones widgets, bots and monitors call)."""
CACHE_CONTROL = "max-age=30"


REUSE = timedelta(seconds=30)
"""A rendering is served again while nothing changed, for at most this long."""


class PageSource(Protocol):
    @property
    def version(self) -> int:
        """Changes whenever the page could have changed other than by time passing."""
        ...

    def page(self, now: datetime) -> sp.Page: ...


class UptimeSource(Protocol):
    """services/uptime.py's UptimeService."""

    @property
    def version(self) -> int: ...

    @property
    def names(self) -> tuple[str, ...]:
        """The public components, by name."""
        ...

    async def snapshot(self) -> UptimeSnapshot: ...


@dataclass(frozen=True)
class StatusPageSettings:
    title: str = "Service Status"
    """Page name: the HTML heading and Statuspage's ``page.name``."""
    page_id: str = "incident-operator"
    url: str = ""
    """Public URL of the HTML page (shortlinks point into it), from configuration
    (``--status-page-url``, chart value ``statusPage.externalURL``); empty: the links are
    relative (``/status``). Never taken from the request: its Host header is the client's
    word, and a spoofed one would put an attacker's host into every cached answer."""


IMPACT_LABEL = {
    Impact.NONE: "No impact",
    Impact.MINOR: "Minor impact",
    Impact.MAJOR: "Major impact",
    Impact.CRITICAL: "Critical impact",
}

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;
background:#f6f8fa;line-height:1.5}
main{max-width:52rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.75rem;margin:.5rem 0 1rem}
h2{font-size:1.25rem;margin:2rem 0 .75rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}
h3{font-size:1rem;margin:1rem 0 .25rem}
.banner{padding:1rem 1.25rem;border-radius:.5rem;color:#fff;font-size:1.25rem;font-weight:600}
.banner.none{background:#1a7f37}.banner.minor{background:#9a6700}
.banner.major{background:#bc4c00}.banner.critical{background:#cf222e}
ul{list-style:none;padding:0;margin:0}
.components li{display:flex;justify-content:space-between;background:#fff;
border:1px solid #d0d7de;border-top:none;padding:.75rem 1rem}
.components li:first-child{border-top:1px solid #d0d7de;border-radius:.5rem .5rem 0 0}
.components li:last-child{border-radius:0 0 .5rem .5rem}
.operational{color:#1a7f37}.degraded_performance{color:#9a6700}
.partial_outage{color:#bc4c00}.major_outage{color:#cf222e}
article{background:#fff;border:1px solid #d0d7de;border-radius:.5rem;padding:1rem;
margin-bottom:1rem}
article h3{margin-top:0}
.meta,.empty,footer{color:#59636e;font-size:.9rem}
.impact-minor{color:#9a6700}.impact-major{color:#bc4c00}.impact-critical{color:#cf222e}
.uptime{background:#fff;border:1px solid #d0d7de;border-radius:.5rem;padding:.75rem 1rem;
margin-bottom:.75rem}
.uptime h3{display:flex;justify-content:space-between;margin:0 0 .5rem}
.bars{display:flex;gap:2px;height:2rem;align-items:stretch;list-style:none;padding:0;margin:0}
.bar{flex:1;min-width:2px;border-radius:1px;position:relative}
.bar.met{background:#1a7f37}.bar.below{background:#bc4c00}.bar.nodata{background:#d0d7de}
@media (max-width:40rem){.bars{gap:1px}.bar{min-width:1px}}
.range{display:flex;justify-content:space-between;margin:.25rem 0 0}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _time(at: datetime) -> str:
    return f'<time datetime="{_e(iso(at))}">{_e(at.strftime("%b %d, %H:%M UTC"))}</time>'


def _label(status: sp.IncidentStatus) -> str:
    return status.value.capitalize()


def _incident(incident: sp.PageIncident, *, heading: str, detail: bool, anchor: str) -> str:
    """One incident; ``anchor`` prefixes its element ids (an open incident is listed twice,
    and ids must stay unique; shortlinks point at ``incident-<id>``)."""
    latest = incident.latest
    ident = f"{anchor}{incident.id}"
    parts = [
        f'<article id="{_e(ident)}" aria-labelledby="title-{_e(ident)}">',
        f'<{heading} id="title-{_e(ident)}">{_e(incident.name)}</{heading}>',
        f'<p class="meta"><span class="impact-{_e(incident.impact.value)}">'
        f"{_e(IMPACT_LABEL[incident.impact])}</span> · Affects {_e(incident.service)}</p>",
        *([f"<p>{_e(incident.impact_text)}</p>"] if incident.impact_text else []),
        f"<p><strong>{_e(_label(latest.status))}</strong> — {_e(latest.body)}"
        f'<br><span class="meta">{_time(latest.at)}</span></p>',
    ]
    if detail and len(incident.updates) > 1:
        parts.append("<details><summary>Earlier updates</summary><ul>")
        for update in incident.updates[1:]:
            parts.append(
                f"<li><strong>{_e(_label(update.status))}</strong> — {_e(update.body)} "
                f'<span class="meta">{_time(update.at)}</span></li>'
            )
        parts.append("</ul></details>")
    parts.append("</article>")
    return "".join(parts)


def _day(day: date) -> str:
    return f'<time datetime="{day.isoformat()}">{_e(day.strftime("%b %d, %Y"))}</time>'


def _percent(fraction: float | None) -> str:
    value = up.percent(fraction)
    return "No data" if value is None else f"{value:g} %"


def _uptime_words(fraction: float | None) -> str:
    return "No data" if fraction is None else f"{_percent(fraction)} uptime"


def _bar(day: up.Day) -> str:
    """One day: its colour says met/below objective or no data, and its words say the same
    and list the day's incidents (title on hover, hidden text for screen readers)."""
    kind = "nodata" if day.availability is None else "below" if day.below else "met"
    words = [day.day.strftime("%b %d, %Y"), _percent(day.availability)]
    if day.partial:
        words[0] += " (today, so far)"
    if day.below:
        words.append("below objective")
    words.extend(i.name for i in day.incidents)
    text = " · ".join(words)
    return f'<li class="bar {kind}" title="{_e(text)}"><span class="vh">{_e(text)}</span></li>'


def _uptime(components: Sequence[up.ComponentUptime], measured: datetime | None) -> str:
    days = len(components[0].days) if components else up.DAYS
    oldest = {1: "", 2: "Yesterday"}.get(days, f"{days - 1} days ago")  # the first bar's day
    parts = [
        '<section aria-labelledby="uptime"><h2 id="uptime">Uptime</h2>',
        f'<p class="meta">Daily availability over the last {days} days (UTC days), measured '
        "from each component's service level objectives; "
        + (f"last measured {_time(measured)}." if measured else "not measured yet.")
        + "</p>",
    ]
    for component in components:
        name = _e(component.name)
        parts.append(
            f'<div class="uptime"><h3><span>{name}</span><span class="meta">'
            f"{_e(_uptime_words(component.uptime))}</span></h3>"
            f'<ol class="bars" aria-label="{name}: daily availability, oldest first">'
            + "".join(_bar(d) for d in component.days)
            + f'</ol><p class="meta range"><span>{oldest}</span><span>Today</span></p>'
            "</div>"
        )
    parts.append("</section>")
    return "".join(parts)


def render_html(
    page: sp.Page,
    title: str,
    uptime: Sequence[up.ComponentUptime] | None = None,
    measured: datetime | None = None,
) -> str:
    """The whole page; every interpolated text is escaped. ``uptime``: the bars of the
    public components (None: no uptime section), read from Prometheus at ``measured``."""
    body = [
        f'<div class="banner {_e(page.indicator.value)}" role="status">'
        f"{_e(page.description)}</div>",
        '<section aria-labelledby="components"><h2 id="components">Components</h2>',
    ]
    if page.components:
        body.append('<ul class="components">')
        for component in page.components:
            body.append(
                f"<li><span>{_e(component.name)}</span>"
                f'<span class="{_e(component.status.value)}">'
                f"{_e(sp.COMPONENT_LABEL[component.status])}</span></li>"
            )
        body.append("</ul>")
    else:
        body.append('<p class="empty">No components have had incidents.</p>')
    body.append("</section>")
    if uptime is not None:
        body.append(_uptime(uptime, measured))
    body.append('<section aria-labelledby="open"><h2 id="open">Open incidents</h2>')
    if page.open_incidents:
        body.extend(
            _incident(i, heading="h3", detail=True, anchor="incident-") for i in page.open_incidents
        )
    else:
        body.append('<p class="empty">No open incidents.</p>')
    body.append("</section>")
    body.append('<section aria-labelledby="past"><h2 id="past">Past incidents</h2>')
    days = page.days()
    if not days:
        body.append('<p class="empty">No incidents reported in the last 90 days.</p>')
    for day, incidents in days:
        body.append(f"<h3>{_day(day)}</h3>")
        body.extend(
            _incident(
                i, heading="h4", detail=False, anchor="past-" if i.unresolved else "incident-"
            )
            for i in incidents
        )
    body.append("</section>")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title>"
        f'<link rel="alternate" type="application/atom+xml" title="History" href="{FEED_PATH}">'
        f"<style>{_CSS}</style></head>"
        f"<body><main><h1>{_e(title)}</h1>{''.join(body)}"
        f"<footer><p>Last updated {_time(page.updated)}. "
        f'Subscribe: <a href="{FEED_PATH}">history feed (Atom)</a>. Also as JSON: '
        f'<a href="{SUMMARY_PATH}">summary</a>, <a href="{STATUS_PATH}">status</a>, '
        f'<a href="{INCIDENTS_PATH}">incidents</a>'
        + (f', <a href="{UPTIME_PATH}">uptime</a>' if uptime is not None else "")
        + ".</p></footer></main></body></html>"
    )


Render = Callable[[sp.Page, sp.Site], dict[str, Any]]


class StatusPageEndpoints:
    def __init__(
        self,
        source: PageSource,
        clock: Clock,
        settings: StatusPageSettings | None = None,
        uptime: UptimeSource | None = None,
    ) -> None:
        """``uptime``: the public components' bars; None, or no component: no uptime."""
        self._source = source
        self._uptime = uptime if uptime is not None and uptime.names else None
        self._clock = clock
        self._settings = settings or StatusPageSettings()
        # route -> (source version, site url, rendered at, body): rendering 1000 incidents
        # takes ~0.1 s on the operator's event loop, and a crowd refreshing during an outage
        # must not multiply that. Only time can change an unchanged index's page (the 90-day
        # cut), and 30 s is what the responses may be cached for anyway. One entry per route
        # and period (not per Host header), so requests cannot grow it past 2 x 90 + 8.
        self._cache: dict[str, tuple[tuple[int, int], str, datetime, bytes]] = {}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(HTML_PATH, self.page_html)
        app.router.add_get(FEED_PATH, self.history_atom)
        app.router.add_get(COMPONENT_FEED_PATH, self.history_atom)
        if self._uptime is not None:
            app.router.add_get(UPTIME_PATH, self.uptime_json)
        for path, render in JSON_ROUTES.items():
            app.router.add_get(path, self._json(render))

    def _site(self) -> sp.Site:
        settings = self._settings
        return sp.Site(settings.page_id, settings.title, settings.url or HTML_PATH)

    def _rendered(self, route: str, url: str, render: Callable[[sp.Page], bytes]) -> bytes:
        now = self._clock.now()
        version = (self._source.version, self._uptime.version if self._uptime else 0)
        cached = self._cache.get(route)
        if cached is not None:
            cached_version, cached_url, at, body = cached
            if (cached_version, cached_url) == (version, url) and timedelta(0) <= now - at < REUSE:
                return body
        page = self._source.page(now)
        if self._uptime is not None:  # the public components are listed, incidents or not
            page = sp.with_components(page, self._uptime.names)
        body = render(page)
        self._cache[route] = (version, url, now, body)
        return body

    async def _bars(self, request: web.Request) -> tuple[int, UptimeSnapshot] | None:
        """The reader's period (``?days=``, 1..90) and the figures; None without uptime."""
        if self._uptime is None:
            return None
        text = request.query.get("days", str(up.DAYS))
        if not text.isdigit() or not 1 <= int(text) <= up.DAYS:
            raise web.HTTPBadRequest(text=f"days must be a whole number from 1 to {up.DAYS}")
        return int(text), await self._uptime.snapshot()

    def _components(
        self, page: sp.Page, snapshot: UptimeSnapshot, days: int
    ) -> list[up.ComponentUptime]:
        now = self._clock.now()
        names = self._uptime.names if self._uptime else ()
        return [
            up.component_uptime(
                name, snapshot.histories.get(name, ()), page.recent_incidents, now, days
            )
            for name in names
        ]

    async def page_html(self, request: web.Request) -> web.Response:
        title = self._settings.title
        bars = await self._bars(request)

        def render(page: sp.Page) -> bytes:
            if bars is None:
                return render_html(page, title).encode()
            days, snapshot = bars
            uptime = self._components(page, snapshot, days)
            return render_html(page, title, uptime, snapshot.measured_at).encode()

        route = HTML_PATH if bars is None else f"{HTML_PATH}?days={bars[0]}"
        body = self._rendered(route, "", render)
        return web.Response(
            body=body,
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": CACHE_CONTROL},
        )

    async def uptime_json(self, request: web.Request) -> web.Response:
        bars = await self._bars(request)
        if bars is None:
            raise web.HTTPNotFound()
        days, snapshot = bars
        site = self._site()

        def render(page: sp.Page) -> bytes:
            uptime = self._components(page, snapshot, days)
            body = up.uptime_json(
                uptime, page, site, now=self._clock.now(), measured=snapshot.measured_at
            )
            return json.dumps(body).encode()

        return self._json_response(self._rendered(f"{UPTIME_PATH}?days={days}", site.url, render))

    async def history_atom(self, request: web.Request) -> web.Response:
        """The Atom feed; a component not on the page is a 404 (and is never cached, so
        made-up names cannot grow the cache)."""
        component = request.match_info.get("component")
        site = self._site()
        url = self._settings.url
        base = url[: -len(HTML_PATH)] if url.endswith(HTML_PATH) else ""
        self_url = base + request.path  # relative without a configured URL, never the Host

        def render(page: sp.Page) -> bytes:
            if component is not None and component not in {c.name for c in page.components}:
                raise web.HTTPNotFound(text=f"no component {component!r} on this page")
            return status_feed.history_atom(page, site, self_url=self_url, component=component)

        body = self._rendered(request.path, site.url, render)
        return web.Response(
            body=body,
            content_type="application/atom+xml",
            charset="utf-8",
            headers={"Cache-Control": CACHE_CONTROL, "Access-Control-Allow-Origin": "*"},
        )

    @staticmethod
    def _json_response(body: bytes) -> web.Response:
        return web.Response(
            body=body,
            content_type="application/json",
            headers={
                "Cache-Control": CACHE_CONTROL,
                # Read-only public data: widgets on other sites may fetch it, as from
                # Statuspage itself.
                "Access-Control-Allow-Origin": "*",
            },
        )

    def _json(self, render: Render) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            site = self._site()
            body = self._rendered(
                request.path, site.url, lambda page: json.dumps(render(page, site)).encode()
            )
            return self._json_response(body)

        return handle
