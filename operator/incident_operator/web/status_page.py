"""``GET /status`` (HTML; rendered by web/status_page_html.py), its history by month
(``/status/history/YYYY-MM``), its history as Atom (``FEED_PATH``, per component
``COMPONENT_FEED_PATH``) and Statuspage-compatible ``/api/v2/*.json`` (``JSON_ROUTES``), and,
with public components configured, their uptime bars in the HTML and on ``/status/uptime.json``
(figures from services/uptime.py, read from Prometheus in the background, never per view).

Read-only, served from the watch-fed index (services/status_page.py): a page view costs no
API call. The HTML is complete as rendered on the server, so it works in any browser, reader
and text client; its one script (same origin, ``SCRIPT_PATH``) only shows times in the
reader's time zone, and every HTML answer carries a Content-Security-Policy that allows no
inline script or style and nothing from another origin but the configured logo's host. Every
piece of text from an object (titles, service names) and from the settings is escaped —
incident titles are written by anyone who may create an Incident, and the page is public.
Responses may be cached for 30 s (as Statuspage's are), which bounds the work a crowd
refreshing the page during an outage can cause.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiohttp import web

from incident_operator.adapters.ports import Clock
from incident_operator.domain import status_feed
from incident_operator.domain import status_page as sp
from incident_operator.domain import uptime as up
from incident_operator.services.uptime import UptimeSnapshot

from .status_page_html import (
    FEED_PATH,
    HISTORY_MONTH_PATH,
    HISTORY_PATH,
    HTML_PATH,
    INCIDENTS_PATH,
    SCRIPT,
    SCRIPT_PATH,
    STATUS_PATH,
    STYLESHEET_PATH,
    SUMMARY_PATH,
    UPTIME_PATH,
    FooterLink,
    Look,
    Shell,
    content_security_policy,
    month_path,
    month_range,
    parse_month,
    render_history,
    render_html,
    stylesheet,
)

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
ASSET_CACHE_CONTROL = "public, max-age=86400"
"""The stylesheet and script: their URLs carry a hash of their content."""


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
    look: Look = field(default_factory=Look)
    """Logo and brand colour (``--status-page-logo-url``, ``--status-page-brand-colour``)."""
    subscribe: tuple[FooterLink, ...] = ()
    """Further ways to subscribe, listed in the footer after the Atom feed."""

    @property
    def shell(self) -> Shell:
        return Shell(self.title, self.look, self.subscribe)


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
        app.router.add_get(HISTORY_PATH, self.history_redirect)
        app.router.add_get(HISTORY_MONTH_PATH, self.history_html)
        app.router.add_get(STYLESHEET_PATH, self.stylesheet)
        app.router.add_get(SCRIPT_PATH, self.script)
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

    def _html_response(self, body: bytes) -> web.Response:
        return web.Response(
            body=body,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Cache-Control": CACHE_CONTROL,
                "Content-Security-Policy": content_security_policy(self._settings.look),
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    async def page_html(self, request: web.Request) -> web.Response:
        title = self._settings.title
        shell = self._settings.shell
        bars = await self._bars(request)

        def render(page: sp.Page) -> bytes:
            if bars is None:
                return render_html(page, title, shell=shell).encode()
            days, snapshot = bars
            uptime = self._components(page, snapshot, days)
            return render_html(page, title, uptime, snapshot.measured_at, shell=shell).encode()

        route = HTML_PATH if bars is None else f"{HTML_PATH}?days={bars[0]}"
        return self._html_response(self._rendered(route, "", render))

    async def history_redirect(self, _: web.Request) -> web.Response:
        """``/status/history``: the current month's page (relative, never the Host)."""
        raise web.HTTPFound(month_path(self._clock.now().date().replace(day=1)))

    async def history_html(self, request: web.Request) -> web.Response:
        """One month of the history; not ``YYYY-MM``: 400; outside the retained history:
        404 (neither is cached, so made-up months cannot grow the cache)."""
        try:
            month = parse_month(request.match_info["month"])
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        shell = self._settings.shell

        def render(page: sp.Page) -> bytes:
            now = self._clock.now()
            first, last = month_range(page, now)
            if not first <= month <= last:
                raise web.HTTPNotFound(
                    text=f"the history holds {first:%Y-%m} to {last:%Y-%m}, not {month:%Y-%m}"
                )
            return render_history(page, month, now, shell=shell).encode()

        return self._html_response(self._rendered(month_path(month), "", render))

    @staticmethod
    def _asset(text: str, content_type: str) -> web.Response:
        return web.Response(
            text=text,
            content_type=content_type,
            charset="utf-8",
            headers={
                "Cache-Control": ASSET_CACHE_CONTROL,
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def stylesheet(self, _: web.Request) -> web.Response:
        return self._asset(stylesheet(self._settings.look), "text/css")

    async def script(self, _: web.Request) -> web.Response:
        return self._asset(SCRIPT, "text/javascript")

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
