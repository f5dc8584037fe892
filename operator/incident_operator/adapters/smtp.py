"""E-mail over SMTP with the standard library's ``smtplib``, off the event loop.

One connection per message (subscription mail is rare and bursty; a pooled connection
would need keep-alive handling the servers differ on). ``security``: ``starttls`` (port
587, the default), ``tls`` (implicit TLS, port 465) or ``none`` (a local relay only). The
password comes from a mounted Secret file (a TokenSource, re-read when rotated) and never
appears in a log line, an error or ``repr``.

Errors become ours: a 4xx reply, a dropped connection or a timeout is DeliveryUnavailable
(try again later); a 5xx reply (an unknown mailbox, a refused login) is DeliveryRejected.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Literal

from incident_operator.domain.subscriptions import Email
from incident_operator.errors import DeliveryRejected, DeliveryUnavailable

from .clock import SystemClock
from .ports import Clock, TokenSource

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]


def message_of(email: Email, sender: str, *, clock: Clock) -> EmailMessage:
    """The RFC 5322 message: plain text, a Message-ID from the notification's key (a repeat
    has the same one), marked automatic, with one-click unsubscribe (RFC 2369, RFC 8058)."""
    # Lines up to RFC 5322's 998 characters: the default policy's 78 would turn a long
    # unbroken List-Unsubscribe URL into an RFC 2047 encoded word no client follows.
    message = EmailMessage(policy=policy.default.clone(max_line_length=998))
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(clock.now())
    domain = parseaddr(sender)[1].rpartition("@")[2] or "incident-operator.invalid"
    message["Message-ID"] = f"<{email.key}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    if email.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text)
    return message


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        sender_name: str = "",
        username: str = "",
        password: TokenSource | None = None,
        security: Security = "starttls",
        timeout: float = 15.0,
        ssl_context: ssl.SSLContext | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = formataddr((sender_name, sender)) if sender_name else sender
        self._username = username
        self._password = password
        self._security = security
        self._timeout = timeout
        self._context = ssl_context or ssl.create_default_context()
        self._clock = clock or SystemClock()

    def __repr__(self) -> str:
        return f"SmtpMailer(host={self._host!r}, port={self._port}, security={self._security!r})"

    async def send(self, email: Email) -> None:
        try:
            message = message_of(email, self._sender, clock=self._clock)
        except ValueError:  # a line break in a header: never sent, never retried soon
            raise DeliveryRejected("the message cannot be built", code="header") from None
        await asyncio.to_thread(self._send, message)
        log.info("e-mail %s handed to %s:%d", email.key, self._host, self._port)

    def _connect(self) -> smtplib.SMTP:
        if self._security == "tls":
            return smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout, context=self._context
            )
        smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        if self._security == "starttls":
            smtp.starttls(context=self._context)
        return smtp

    def _send(self, message: EmailMessage) -> None:
        try:
            with self._connect() as smtp:
                if self._username:
                    password = self._password.current() if self._password else None
                    smtp.login(self._username, (password or b"").decode())
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _by_code(min(codes, default=550), "the recipient was refused") from None
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, type(exc).__name__) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryUnavailable(f"mail server unreachable ({type(exc).__name__})") from None


def _by_code(code: int, what: str) -> DeliveryRejected | DeliveryUnavailable:
    """4xx: try later; 5xx (and anything else): the server's final word."""
    if 400 <= code < 500:
        return DeliveryUnavailable(f"mail server deferred: {what} (SMTP {code})")
    return DeliveryRejected(f"mail server refused: {what} (SMTP {code})", code=f"smtp {code}")
