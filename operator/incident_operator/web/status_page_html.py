"""The status page's HTML, stylesheet and script: pure functions, data in, text out.

What people expect of a status page, and how it is met here:

* **Readable anywhere**: one column that fits a phone (checked at 390 px) and grows to 52 rem
  on a desktop; light and dark (``prefers-color-scheme``) palettes whose text passes WCAG AA
  contrast (4.5:1) on its background; landmarks (header with the site's name and navigation, main,
  footer), headings in order (one ``h1``, then ``h2`` sections), a skip link and a visible
  keyboard focus ring. Status is never told by colour alone: every coloured mark carries its
  words. Checked with axe-core in headless Chromium
  (tests/integration/test_status_page_browser.py).
* **Times in the reader's time zone**: every instant is rendered on the server as
  ``<time datetime="...Z">Nov 27, 14:00 UTC</time>`` (the page reads right without
  JavaScript, in any reader or text client); :data:`SCRIPT`, served from the page's own origin
  (never inline, so the page's Content-Security-Policy allows no inline script), rewrites
  those marked ``data-local`` into the browser's time zone with ``textContent`` only.
* **History by month** (:func:`render_history`): the retained history (the page's 90 days),
  one calendar month (UTC) per page, with links to the previous and next month.
* **Branding** (:class:`Look`): a logo (https URL or same-origin path) and a brand colour
  (``#rrggbb``), both validated (:func:`logo_url`, :func:`brand_colour`) before they reach a
  page; the header's text colour is computed from the brand colour so it always contrasts.

Every text from an object (titles, service names) and from the settings goes through
``html.escape``: incident titles are written by anyone who may create an Incident, and the
page is public.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlsplit

from incident_operator.domain import status_page as sp
from incident_operator.domain import uptime as up
from incident_operator.domain.comms import Impact
from incident_operator.domain.status_catalog import Maintenance, MaintenanceStatus
from incident_operator.domain.times import iso

HTML_PATH = "/status"
HISTORY_PATH = "/status/history"
HISTORY_MONTH_PATH = "/status/history/{month}"
"""One month of the history: ``/status/history/2026-11``."""
STYLESHEET_PATH = "/status/assets/status-page.css"
SCRIPT_PATH = "/status/assets/status-page.js"
FEED_PATH = "/status/history.atom"
SUMMARY_PATH = "/api/v2/summary.json"
STATUS_PATH = "/api/v2/status.json"
INCIDENTS_PATH = "/api/v2/incidents.json"
UPTIME_PATH = "/status/uptime.json"

IMPACT_LABEL = {
    Impact.NONE: "No impact",
    Impact.MINOR: "Minor impact",
    Impact.MAJOR: "Major impact",
    Impact.CRITICAL: "Critical impact",
}

# --- branding ------------------------------------------------------------------------------

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
MAX_URL = 2048


def brand_colour(text: str) -> str:
    """``text`` if it is a colour in ``#rrggbb`` form (lower-cased), else ValueError: the only
    form that goes into the stylesheet, so no value can end the rule or add another."""
    if not _COLOUR.fullmatch(text):
        raise ValueError(f"brand colour must be #rrggbb, e.g. #0b5cad, not {text!r}")
    return text.lower()


def logo_url(text: str) -> str:
    """``text`` if it is an https URL (a host, no user info) or a path on the page's own
    origin (``/...``, not ``//host``), in URL characters only; else ValueError. An ``http:``,
    ``data:`` or ``javascript:`` logo would be mixed content, or script, on a public page."""
    if not text or len(text) > MAX_URL or not _URL_CHARS.fullmatch(text):
        raise ValueError(f"logo URL must be an https URL or a /path, not {text!r}")
    if text.startswith("/") and not text.startswith("//"):
        return text
    parts = urlsplit(text)
    if parts.scheme != "https" or not _HOST.fullmatch(parts.netloc) or "." not in parts.netloc:
        raise ValueError(f"logo URL must be an https URL or a /path, not {text!r}")
    return text


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance of ``#rrggbb``."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_on(background: str) -> str:
    """Black or white, whichever contrasts more with ``background``: at least 4.58:1 (the
    worst case, a mid grey), so AA holds for any brand colour."""
    return max(("#ffffff", "#000000"), key=lambda fg: contrast(fg, background))


@dataclass(frozen=True)
class Look:
    """The page's branding, from the chart (``statusPage.logoURL``, ``statusPage.brandColour``)
    through ``--status-page-logo-url`` and ``--status-page-brand-colour``; validated here."""

    logo_url: str = ""
    """https URL or same-origin path of the logo shown beside the page's name; empty: none."""
    brand_colour: str = ""
    """``#rrggbb`` of the header band; empty: the neutral palette."""

    def __post_init__(self) -> None:
        if self.logo_url:
            logo_url(self.logo_url)
        if self.brand_colour:
            object.__setattr__(self, "brand_colour", brand_colour(self.brand_colour))

    @property
    def logo_origin(self) -> str:
        """The logo's origin when it is on another host (for the CSP's ``img-src``)."""
        if not self.logo_url or self.logo_url.startswith("/"):
            return ""
        parts = urlsplit(self.logo_url)
        return f"https://{parts.netloc}"


# --- stylesheet and script -----------------------------------------------------------------

_CSS = """
:root{color-scheme:light dark;--bg:#f6f8fa;--surface:#fff;--fg:#1f2328;--muted:#59636e;
--border:#d0d7de;--link:#0550ae;--ok:#1a7f37;--minor:#9a6700;--major:#bc4c00;
--critical:#cf222e;--nodata:#afb8c1;--head-bg:var(--surface);--head-fg:var(--fg)}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--surface:#161b22;--fg:#e6edf3;
--muted:#9da7b3;--border:#3d444d;--link:#6cb6ff;--ok:#3fb950;--minor:#d29922;
--major:#f0883e;--critical:#ff7b72;--nodata:#484f58}}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:var(--fg);
background:var(--bg);line-height:1.5;overflow-wrap:anywhere}
a{color:var(--link)}
:focus-visible{outline:3px solid currentColor;outline-offset:2px}
main:focus{outline:none}
.skip{position:absolute;left:-100vw;top:.5rem;z-index:1;padding:.5rem 1rem;
background:var(--surface);color:var(--link);border-radius:.25rem}
.skip:focus{left:.5rem}
.wrap{max-width:52rem;margin:0 auto;padding:0 1rem}
header.site{background:var(--head-bg);color:var(--head-fg);border-bottom:1px solid var(--border)}
header.site .wrap{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;
gap:.5rem 1.5rem;padding-top:.75rem;padding-bottom:.75rem}
header.site a{color:inherit}
.brand{display:flex;align-items:center;gap:.75rem;font-weight:600;font-size:1.125rem;
text-decoration:none}
.brand img{height:2rem;width:auto;max-width:10rem}
nav ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem}
nav a[aria-current]{font-weight:600;text-decoration-thickness:2px}
main{display:block;padding-top:1rem;padding-bottom:1.5rem}
h1{font-size:1.75rem;margin:.5rem 0 1rem;line-height:1.25}
h2{font-size:1.25rem;margin:2rem 0 .75rem;border-bottom:1px solid var(--border);
padding-bottom:.25rem}
h3{font-size:1rem;margin:1rem 0 .25rem}
.banner{padding:1rem 1.25rem;border-radius:.5rem;color:#fff;font-size:1.25rem;font-weight:600}
.banner.none{background:#1a7f37}.banner.minor{background:#875b00}
.banner.major{background:#a94400}.banner.critical{background:#cf222e}
ul{list-style:none;padding:0;margin:0}
.components li{display:flex;flex-wrap:wrap;justify-content:space-between;gap:0 1rem;
background:var(--surface);border:1px solid var(--border);border-top:none;padding:.75rem 1rem}
.components li:first-child{border-top:1px solid var(--border);border-radius:.5rem .5rem 0 0}
.components li:last-child{border-radius:0 0 .5rem .5rem}
.components li:only-child{border-radius:.5rem}
.operational{color:var(--ok)}.degraded_performance{color:var(--minor)}
.partial_outage{color:var(--major)}.major_outage{color:var(--critical)}
.under_maintenance{color:var(--link)}
.group{display:flex;flex-wrap:wrap;justify-content:space-between;margin:1rem 0 .5rem}
article{background:var(--surface);border:1px solid var(--border);border-radius:.5rem;
padding:1rem;margin-bottom:1rem}
article h2,article h3,article h4{margin-top:0}
article>:last-child{margin-bottom:0}
.meta,.empty,footer.site{color:var(--muted);font-size:.9rem}
.impact-minor{color:var(--minor)}.impact-major{color:var(--major)}
.impact-critical{color:var(--critical)}
.uptime{background:var(--surface);border:1px solid var(--border);border-radius:.5rem;
padding:.75rem 1rem;margin-bottom:.75rem}
.uptime h3{display:flex;flex-wrap:wrap;justify-content:space-between;margin:0 0 .5rem}
.bars{display:flex;gap:2px;height:2rem;align-items:stretch;list-style:none;padding:0;margin:0}
.bar{flex:1;min-width:1px;border-radius:1px;position:relative}
.bar.met{background:var(--ok)}.bar.below{background:var(--major)}
.bar.nodata{background:var(--nodata)}
@media (max-width:40rem){.bars{gap:1px}h1{font-size:1.5rem}}
.range{display:flex;justify-content:space-between;margin:.25rem 0 0}
.months{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.5rem;margin:2rem 0 0}
footer.site{border-top:1px solid var(--border);padding:1rem 0 2rem}
footer.site a{color:var(--link)}
footer.site ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem}
.subscribe{display:flex;flex-wrap:wrap;gap:.25rem .5rem}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
"""

SCRIPT = """\
// Shows the status page's times in the reader's time zone. The server writes each as UTC
// text in <time datetime="...Z" data-local>; this only replaces that text (textContent,
// never HTML) and keeps the UTC text as the element's title. Without it, the page reads UTC.
"use strict";
(function () {
  var format = new Intl.DateTimeFormat(undefined, {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });
  var times = document.querySelectorAll("time[data-local]");
  for (var i = 0; i < times.length; i++) {
    var at = new Date(times[i].getAttribute("datetime"));
    if (isNaN(at.getTime())) continue;
    times[i].title = times[i].textContent;
    times[i].textContent = format.format(at);
  }
  document.documentElement.setAttribute("data-times", "local");
})();
"""


def stylesheet(look: Look) -> str:
    """The page's CSS: :data:`_CSS` with the brand colour's header band, if any."""
    if not look.brand_colour:
        return _CSS
    colour = look.brand_colour
    return (
        _CSS
        + f":root{{--head-bg:{colour};--head-fg:{text_on(colour)}}}"
        + f"@media (prefers-color-scheme:dark){{:root{{--head-bg:{colour};"
        + f"--head-fg:{text_on(colour)}}}}}\n"
    )


def _version(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def stylesheet_href(look: Look) -> str:
    """Versioned by content, so the stylesheet may be cached for long."""
    return f"{STYLESHEET_PATH}?v={_version(stylesheet(look))}"


SCRIPT_HREF = f"{SCRIPT_PATH}?v={_version(SCRIPT)}"


def content_security_policy(look: Look) -> str:
    """What the page may load: its own stylesheet and script, images from itself and the
    logo's host; nothing inline, no frames, no plugins, no other origin."""
    images = " ".join(filter(None, ("'self'", look.logo_origin)))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


# --- pieces -------------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _time(at: datetime) -> str:
    """An instant: UTC text, localised by :data:`SCRIPT` where it runs."""
    text = _e(at.strftime("%b %d, %H:%M UTC"))
    return f'<time datetime="{_e(iso(at))}" data-local>{text}</time>'


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
        f"{_e(IMPACT_LABEL[incident.impact])}</span>"
        + (f" · Affects {_e(', '.join(incident.components))}" if incident.components else "")
        + "</p>",
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


def _component_item(name: str, status: sp.ComponentStatus) -> str:
    return (
        f"<li><span>{_e(name)}</span>"
        f'<span class="{_e(status.value)}">{_e(sp.COMPONENT_LABEL[status])}</span></li>'
    )


def _components(page: sp.Page) -> list[str]:
    """Ungrouped components, then each group (its worst member's status) with its members."""
    parts = []
    for group, members in page.groups():
        if group:
            status = sp.group_status(members)
            parts.append(
                f'<h3 class="group">{_e(group)} <span class="{_e(status.value)}">'
                f"{_e(sp.COMPONENT_LABEL[status])}</span></h3>"
            )
        parts.append('<ul class="components">')
        parts.extend(_component_item(c.name, c.status) for c in members)
        parts.append("</ul>")
    return parts


MAINTENANCE_LABEL: dict[MaintenanceStatus, str] = {
    MaintenanceStatus.SCHEDULED: "Scheduled",
    MaintenanceStatus.IN_PROGRESS: "In progress",
    MaintenanceStatus.COMPLETED: "Completed",
}


def _maintenances(maintenances: Sequence[Maintenance]) -> list[str]:
    """Upcoming and running maintenances (completed ones are history, in the JSON)."""
    shown = [m for m in maintenances if m.status is not MaintenanceStatus.COMPLETED]
    if not shown:
        return []
    parts = [
        '<section aria-labelledby="maintenance"><h2 id="maintenance">Scheduled maintenance</h2>'
    ]
    for maintenance in shown:
        window = maintenance.window
        ident = f"maintenance-{maintenance.id}"
        parts.append(
            f'<article id="{_e(ident)}" aria-labelledby="title-{_e(ident)}">'
            f'<h3 id="title-{_e(ident)}">{_e(window.name)}</h3>'
            f'<p class="meta"><span class="under_maintenance">'
            f"{_e(MAINTENANCE_LABEL[maintenance.status])}</span> · "
            f"{_time(window.start)} to {_time(window.end)}"
            f" · Affects {_e(', '.join(maintenance.components))}</p>"
            + (f"<p>{_e(window.description)}</p>" if window.description else "")
            + "</article>"
        )
    parts.append("</section>")
    return parts


def _day(day: date) -> str:
    """A UTC day (the history is grouped by them): not localised."""
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


def _history_days(
    incidents: Sequence[sp.PageIncident], anchor_open: str, *, level: int = 3
) -> list[str]:
    """Incidents grouped by the (UTC) day they were declared, newest day first; the days
    are headings of ``level``, the incidents one below."""
    grouped: dict[date, list[sp.PageIncident]] = {}
    for incident in incidents:
        grouped.setdefault(incident.day, []).append(incident)
    body: list[str] = []
    for day, items in sorted(grouped.items(), reverse=True):
        body.append(f"<h{level}>{_day(day)}</h{level}>")
        body.extend(
            _incident(
                i,
                heading=f"h{level + 1}",
                detail=False,
                anchor=anchor_open if i.unresolved else "incident-",
            )
            for i in items
        )
    return body


@dataclass(frozen=True)
class FooterLink:
    """A link in the footer's *Subscribe* list (e.g. a subscription form, from another
    feature): its words and its same-origin or absolute URL, both escaped."""

    text: str
    href: str


@dataclass(frozen=True)
class Shell:
    """What every page around its content shows: name, branding and footer links."""

    title: str
    look: Look = field(default_factory=Look)
    subscribe: tuple[FooterLink, ...] = ()
    """Appended to the footer's Subscribe list after the Atom feed: the ``footer`` spot
    where another change adds its own way of subscribing."""


def _document(
    shell: Shell,
    *,
    title: str,
    current: str,
    content: str,
    updated: datetime,
    uptime: bool = False,
) -> str:
    """The page around ``content`` (the inside of ``<main>``): skip link, header with logo,
    name and navigation (``current``: HTML_PATH or HISTORY_PATH), and the footer."""
    look = shell.look
    logo = f'<img src="{_e(look.logo_url)}" alt="">' if look.logo_url else ""
    here = ' aria-current="page"'
    nav = "".join(
        f'<li><a href="{path}"{here if path == current else ""}>{words}</a></li>'
        for path, words in ((HTML_PATH, "Current status"), (HISTORY_PATH, "History"))
    )
    subscribe = [FooterLink("history feed (Atom)", FEED_PATH), *shell.subscribe]
    links = "".join(f'<li><a href="{_e(s.href)}">{_e(s.text)}</a></li>' for s in subscribe)
    json_links = [("summary", SUMMARY_PATH), ("status", STATUS_PATH), ("incidents", INCIDENTS_PATH)]
    if uptime:
        json_links.append(("uptime", UPTIME_PATH))
    as_json = ", ".join(f'<a href="{path}">{words}</a>' for words, path in json_links)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>{_e(title)}</title>"
        f'<link rel="stylesheet" href="{_e(stylesheet_href(look))}">'
        f'<link rel="alternate" type="application/atom+xml" title="History" href="{FEED_PATH}">'
        f'<script src="{SCRIPT_HREF}" defer></script></head>'
        '<body><a class="skip" href="#main">Skip to content</a>'
        f'<header class="site"><div class="wrap"><a class="brand" href="{HTML_PATH}">{logo}'
        f"<span>{_e(shell.title)}</span></a>"
        f'<nav aria-label="Status page"><ul>{nav}</ul></nav></div></header>'
        f'<main id="main" tabindex="-1"><div class="wrap">{content}</div></main>'
        f'<footer class="site"><div class="wrap"><p>Last updated {_time(updated)}.</p>'
        '<div class="subscribe"><span id="subscribe-label">Subscribe:</span>'
        f'<ul id="subscribe" aria-labelledby="subscribe-label">{links}</ul></div>'
        f"<p>Also as JSON: {as_json}.</p></div></footer></body></html>"
    )


# --- the pages ----------------------------------------------------------------------------


def render_html(
    page: sp.Page,
    title: str,
    uptime: Sequence[up.ComponentUptime] | None = None,
    measured: datetime | None = None,
    *,
    shell: Shell | None = None,
) -> str:
    """The current status page; every interpolated text is escaped. ``uptime``: the bars of
    the public components (None: no uptime section), read from Prometheus at ``measured``.
    ``shell``: branding and footer links (default: none, named ``title``)."""
    shell = shell or Shell(title)
    body = [
        f"<h1>{_e(title)}</h1>"
        f'<div class="banner {_e(page.indicator.value)}" role="status">'
        f"{_e(page.description)}</div>",
        '<section aria-labelledby="components"><h2 id="components">Components</h2>',
    ]
    if page.components:
        body.extend(_components(page))
    else:
        body.append('<p class="empty">No components have had incidents.</p>')
    body.append("</section>")
    body.extend(_maintenances(page.maintenances))
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
    if not page.recent_incidents:
        body.append('<p class="empty">No incidents reported in the last 90 days.</p>')
    body.extend(_history_days(page.recent_incidents, "past-"))
    body.append(f'<p><a href="{HISTORY_PATH}">Incident history by month</a></p></section>')
    return _document(
        shell,
        title=title,
        current=HTML_PATH,
        content="".join(body),
        updated=page.updated,
        uptime=uptime is not None,
    )


# --- history by month ---------------------------------------------------------------------

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def parse_month(text: str) -> date:
    """``YYYY-MM`` as the first day of that month; ValueError for anything else."""
    found = _MONTH.fullmatch(text)
    if found is None or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 1:
        raise ValueError(f"month must be YYYY-MM, e.g. 2026-11, not {text!r}")
    return date(int(found.group(1)), int(found.group(2)), 1)


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_range(page: sp.Page, now: datetime) -> tuple[date, date]:
    """The first and last month the history has pages for: from the month the retained
    window (:data:`sp.HISTORY`) starts in, or the oldest listed incident's if earlier (one
    that ended inside the window), to the current month (UTC)."""
    oldest = (now - sp.HISTORY).date()
    for incident in page.recent_incidents:
        oldest = min(oldest, incident.day)
    return oldest.replace(day=1), now.date().replace(day=1)


def month_path(month: date) -> str:
    return HISTORY_MONTH_PATH.format(month=f"{month:%Y-%m}")


def render_history(page: sp.Page, month: date, now: datetime, *, shell: Shell) -> str:
    """One month (UTC, by declaration day) of the page's history, with links to the months
    before and after within :func:`month_range`. ``month`` must lie in that range."""
    first, last = month_range(page, now)
    if not first <= month <= last:
        raise ValueError(f"{month:%Y-%m} is outside the retained history")
    following = _add_months(month, 1)
    incidents = [i for i in page.recent_incidents if month <= i.day < following]
    name = f"{month:%B %Y}"
    body = [f"<h1>Incident history: {_e(name)}</h1>"]
    body.append(
        '<p class="meta">Incidents by the day (UTC) they were declared; the history keeps '
        f"the last {sp.HISTORY.days} days.</p>"
    )
    if not incidents:
        body.append(f'<p class="empty">No incidents reported in {_e(name)}.</p>')
    body.extend(_history_days(incidents, "incident-", level=2))
    nav = []
    previous = _add_months(month, -1)
    if previous >= first:
        nav.append(f'<a href="{month_path(previous)}" rel="prev">← {previous:%B %Y}</a>')
    else:
        nav.append("<span></span>")
    if following <= last:
        nav.append(f'<a href="{month_path(following)}" rel="next">{following:%B %Y} →</a>')
    body.append(f'<nav aria-label="Months" class="months">{"".join(nav)}</nav>')
    return _document(
        shell,
        title=f"{name} · {shell.title}",
        current=HISTORY_PATH,
        content="".join(body),
        updated=page.updated,
    )
