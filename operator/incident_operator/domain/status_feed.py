"""The status page's history as an Atom feed (RFC 4287): site-wide and per component.

One entry per incident on the page (the 90-day history, private incidents never among them:
``status_page.shown``), updated whenever it gets a new update, its content the updates
newest first — what a feed reader, a chat integration or a "subscribe" button expects, as
Statuspage's ``history.atom``. Only what the page already shows goes in: the public name, the
public impact text and the update bodies; never an internal title or timeline.

Atom wants every id to be an absolute IRI and stable: ids are ``urn:uuid:`` names derived
from the page id and the incident's public id (uuid5), so they hold whether or not the page
knows its public URL. Built with ElementTree, so every text is escaped by the serializer.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from .status_page import Page, PageIncident, Site
from .times import iso

ATOM = "http://www.w3.org/2005/Atom"
STATUS_WORDS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
    "postmortem": "Postmortem",
}


def _urn(*parts: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, "/".join(("incident-operator", *parts))).urn


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _content(incident: PageIncident) -> str:
    lines = [incident.impact_text] if incident.impact_text else []
    lines += [
        f"{iso(u.at)} {STATUS_WORDS.get(u.status.value, u.status.value)}: {u.body}"
        for u in incident.updates
    ]
    return "\n".join(lines)


def _entry(feed: ET.Element, incident: PageIncident, site: Site) -> None:
    entry = _add(feed, "entry")
    _add(entry, "id", _urn(site.id, "incident", incident.id))
    status = STATUS_WORDS.get(incident.status.value, incident.status.value)
    _add(entry, "title", f"{incident.name} ({status})")
    _add(entry, "published", iso(incident.created))
    _add(entry, "updated", iso(incident.updated))
    _add(
        entry, "link", rel="alternate", type="text/html", href=f"{site.url}#incident-{incident.id}"
    )
    for component in incident.components:
        _add(entry, "category", term=component)
    _add(entry, "content", _content(incident), type="text")


def history_atom(page: Page, site: Site, *, self_url: str, component: str | None = None) -> bytes:
    """The feed of ``page``'s history; ``component``: only the incidents on it."""
    ET.register_namespace("", ATOM)
    incidents: Iterable[PageIncident] = page.recent_incidents
    if component is not None:
        incidents = [i for i in incidents if component in i.components]
    incidents = sorted(incidents, key=lambda i: i.updated, reverse=True)
    feed = ET.Element(f"{{{ATOM}}}feed")
    scope = ("component", component) if component is not None else ()
    _add(feed, "id", _urn(site.id, "history", *scope))
    _add(feed, "title", f"{site.name}: {component}" if component else f"{site.name} history")
    # The feed changed when its newest entry did; an empty feed as of the page's own time.
    _add(feed, "updated", iso(incidents[0].updated if incidents else page.updated))
    _add(_add(feed, "author"), "name", site.name)
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _add(feed, "link", rel="alternate", type="text/html", href=site.url)
    for incident in incidents:
        _entry(feed, incident, site)
    text: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return text
