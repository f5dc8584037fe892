"""The public subscription endpoints of the status page: sign up by e-mail (double opt-in),
confirm, unsubscribe — no account, no JavaScript.

* ``GET /status/subscribe``: the form (e-mail address, optionally components) when public
  sign-up is on (``--status-page-subscribe``); otherwise a page pointing at the Atom feed.
* ``POST /status/subscribe``: sends a confirmation e-mail carrying a signed token (address,
  components, expiry: domain/subscriptions.py); nothing is stored yet. The answer is the
  same whether or not the address is already subscribed (no one learns who is), and the
  number of confirmation e-mails is limited (:class:`SendLimit`), so the form cannot be used
  to flood a mailbox or the mail server.
* ``GET`` and ``POST /status/subscribe/confirm?t=``: GET shows a button, POST subscribes.
  Links in e-mails are opened by mail scanners and link previews, so a GET never changes
  anything.
* ``GET`` and ``POST /status/unsubscribe?s=&t=``: the link in every e-mail and webhook;
  GET shows a button, POST (also RFC 8058's one-click ``List-Unsubscribe=One-Click``)
  removes the subscriber. The token is an HMAC of the subscriber id: valid for that one
  subscriber only, and forever (an old e-mail's link still works).

Every text from a request or from settings goes through ``html.escape``. Addresses are
never logged; tokens are never echoed into a log line.
"""

from __future__ import annotations

import html
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from incident_operator.adapters.ports import Clock, TokenSource
from incident_operator.adapters.subscription_ports import Mailer, SubscriberList
from incident_operator.domain import subscriptions as subs
from incident_operator.domain.status_page import Site
from incident_operator.errors import IncidentOperatorError

log = logging.getLogger(__name__)

FEED_PATH = "/status/history.atom"
PAGE_PATH = "/status"


class SendLimit:
    """At most ``per_minute`` confirmation e-mails in any minute, and one per address per
    ``per_address`` seconds (remembering at most ``remembered`` addresses)."""

    def __init__(
        self,
        per_minute: int = 10,
        per_address: float = 600.0,
        *,
        remembered: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_minute = per_minute
        self._per_address = per_address
        self._remembered = remembered
        self._monotonic = monotonic
        self._recent: list[float] = []
        self._addresses: OrderedDict[str, float] = OrderedDict()

    def allow(self, address: str) -> bool:
        now = self._monotonic()
        self._recent = [t for t in self._recent if now - t < 60.0]
        last = self._addresses.get(address)
        if last is not None and now - last < self._per_address:
            return False
        if len(self._recent) >= self._per_minute:
            return False
        self._recent.append(now)
        self._addresses[address] = now
        self._addresses.move_to_end(address)
        while len(self._addresses) > self._remembered:
            self._addresses.popitem(last=False)
        return True


@dataclass(frozen=True)
class SignupSettings:
    site: Site
    """The page's name and public URL (links in e-mails must be absolute)."""
    public_signup: bool = False
    """Offer the e-mail form to anyone (double opt-in); off: the list is the admin's."""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:0;background:#f6f8fa;color:#1f2328;"
    "line-height:1.5}main{max-width:36rem;margin:0 auto;padding:1.5rem}"
    "form{background:#fff;border:1px solid #d0d7de;border-radius:.5rem;padding:1rem}"
    "label{display:block;margin:.5rem 0}input[type=email]{width:100%;padding:.4rem}"
    "button{margin-top:.75rem;padding:.4rem 1rem}"
)


def _html(title: str, body: str, status: int = 200) -> web.Response:
    text = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{_e(title)}</title>'
        f"<style>{_CSS}</style></head><body><main><h1>{_e(title)}</h1>{body}"
        f'<p><a href="{PAGE_PATH}">Back to the status page</a></p></main></body></html>'
    )
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


class SubscriptionEndpoints:
    def __init__(
        self,
        subscribers: SubscriberList | None,
        key: TokenSource | None,
        clock: Clock,
        settings: SignupSettings,
        *,
        mailer: Mailer | None = None,
        components: Callable[[], Sequence[str]] = tuple,
        limit: SendLimit | None = None,
    ) -> None:
        """``subscribers`` or ``key`` None: subscriptions are not configured (the subscribe
        page then points at the feed, and the other routes answer 404)."""
        self._subscribers = subscribers
        self._key = key
        self._clock = clock
        self._settings = settings
        self._mailer = mailer
        self._components = components
        self._limit = limit or SendLimit()

    @property
    def _configured(self) -> bool:
        return self._subscribers is not None and self._key is not None

    @property
    def _signup(self) -> bool:
        return self._configured and self._settings.public_signup and self._mailer is not None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(subs.SUBSCRIBE_PATH, self.form)
        if self._signup:
            app.router.add_post(subs.SUBSCRIBE_PATH, self.subscribe)
            app.router.add_get(subs.CONFIRM_PATH, self.confirm_form)
            app.router.add_post(subs.CONFIRM_PATH, self.confirm)
        if self._configured:
            app.router.add_get(subs.UNSUBSCRIBE_PATH, self.unsubscribe_form)
            app.router.add_post(subs.UNSUBSCRIBE_PATH, self.unsubscribe)

    def _title(self, what: str) -> str:
        return f"{what} · {self._settings.site.name}"

    def _key_now(self) -> bytes:
        key = self._key.current() if self._key is not None else None
        if not key:
            raise web.HTTPServiceUnavailable(text="subscriptions are not available right now")
        return key

    async def form(self, _: web.Request) -> web.Response:
        feed = f'<a href="{FEED_PATH}">history feed (Atom)</a>'
        if not self._signup:
            return _html(
                self._title("Subscribe"),
                f"<p>Follow this page's incidents in any feed reader with its {feed}.</p>",
            )
        boxes = "".join(
            f'<label><input type="checkbox" name="component" value="{_e(c)}"> {_e(c)}</label>'
            for c in sorted(self._components())
        )
        choose = (
            f"<fieldset><legend>Only these components (none ticked: all)</legend>{boxes}</fieldset>"
            if boxes
            else ""
        )
        return _html(
            self._title("Subscribe"),
            "<p>Get an e-mail whenever an incident update is posted on this page. We send a "
            "confirmation first; every e-mail has a link to unsubscribe.</p>"
            f'<form method="post" action="{subs.SUBSCRIBE_PATH}">'
            '<label>E-mail address <input type="email" name="email" required '
            'maxlength="254" autocomplete="email"></label>'
            f'{choose}<button type="submit">Subscribe</button></form>'
            f"<p>Or follow the {feed}.</p>",
        )

    async def subscribe(self, request: web.Request) -> web.Response:
        form = await request.post()
        address = str(form.get("email") or "").strip()
        if not subs.valid_email(address):
            return _html(self._title("Subscribe"), "<p>That is not an e-mail address.</p>", 400)
        chosen = sorted({str(c) for c in form.getall("component", [])})
        if len(chosen) > subs.MAX_COMPONENTS or (
            chosen and not set(chosen) <= set(self._components())
        ):
            return _html(self._title("Subscribe"), "<p>Unknown component.</p>", 400)
        if not self._limit.allow(address.lower()):
            return _html(
                self._title("Subscribe"),
                "<p>Too many requests; please try again in a few minutes.</p>",
                429,
            )
        key = self._key_now()
        now = self._clock.now()
        pending = subs.ConfirmRequest(address, tuple(chosen), now + subs.CONFIRM_VALIDITY)
        token = subs.confirm_token(key, pending)
        site = self._settings.site
        link = subs.confirm_url(subs.base_url(site.url), token)
        assert self._mailer is not None
        mail = subs.confirm_email(
            address,
            site,
            confirm_url=link,
            components=chosen,
            key=subs.delivery_key(subs.subscriber_id(subs.Kind.EMAIL, address), "confirm", token),
        )
        try:
            await self._mailer.send(mail)
        except IncidentOperatorError as exc:
            log.warning("confirmation e-mail not sent: %s", exc)
            return _html(
                self._title("Subscribe"),
                "<p>We could not send the confirmation e-mail; please try again later.</p>",
                503,
            )
        return _html(
            self._title("Check your inbox"),
            "<p>If the address can receive e-mail, a confirmation link is on its way. The "
            "subscription starts once you confirm.</p>",
            202,
        )

    def _confirmed(self, token: str) -> subs.ConfirmRequest:
        try:
            return subs.read_confirm_token(self._key_now(), token, self._clock.now())
        except subs.TokenInvalid as exc:
            log.info("confirmation refused: %s", exc)
            raise web.HTTPBadRequest(
                text="This confirmation link is invalid or has expired; subscribe again."
            ) from None

    async def confirm_form(self, request: web.Request) -> web.Response:
        token = request.query.get("t", "")
        self._confirmed(token)
        return _html(
            self._title("Confirm your subscription"),
            f'<form method="post" action="{subs.CONFIRM_PATH}?t={_e(token)}">'
            '<button type="submit">Confirm subscription</button></form>',
        )

    async def confirm(self, request: web.Request) -> web.Response:
        confirmed = self._confirmed(request.query.get("t", ""))
        assert self._subscribers is not None
        subscriber = subs.Subscriber(
            subs.Kind.EMAIL,
            confirmed.address,
            self._clock.now().replace(microsecond=0),
            frozenset(confirmed.components),
        )
        try:
            await self._subscribers.add(subscriber)
        except IncidentOperatorError as exc:
            log.warning("subscription %s not stored: %s", subscriber.id, exc)
            raise web.HTTPServiceUnavailable(text="please try again later") from None
        log.info("subscriber %s confirmed", subscriber.id)
        return _html(
            self._title("Subscribed"),
            "<p>You will get an e-mail when an incident update is posted.</p>",
        )

    def _checked(self, request: web.Request) -> str:
        subscriber = request.query.get("s", "")
        token = request.query.get("t", "")
        if not subs.valid_unsubscribe(self._key_now(), subscriber, token):
            raise web.HTTPForbidden(text="This unsubscribe link is not valid.")
        return subscriber

    async def unsubscribe_form(self, request: web.Request) -> web.Response:
        subscriber = self._checked(request)
        token = request.query.get("t", "")
        return _html(
            self._title("Unsubscribe"),
            f'<form method="post" action="{subs.UNSUBSCRIBE_PATH}?s={_e(subscriber)}'
            f'&amp;t={_e(token)}"><button type="submit">Unsubscribe</button></form>',
        )

    async def unsubscribe(self, request: web.Request) -> web.Response:
        subscriber = self._checked(request)
        assert self._subscribers is not None
        try:
            removed = await self._subscribers.remove(subscriber)
        except IncidentOperatorError as exc:
            log.warning("unsubscribe %s failed: %s", subscriber, exc)
            raise web.HTTPServiceUnavailable(text="please try again later") from None
        if removed:
            log.info("subscriber %s unsubscribed", subscriber)
        return _html(
            self._title("Unsubscribed"), "<p>You will not get further updates from us.</p>"
        )
