"""The subscription adapters against real servers: SmtpMailer against aiosmtpd (a real SMTP
server, in-process), HttpSubscriberWebhook against the local signed-webhook receiver.

What arrives is the message the domain rendered, with its key as Message-ID and one-click
unsubscribe headers; a login uses the mounted password; the server's 4xx and 5xx become our
temporary and permanent errors; and no password, secret or URL shows in an error or a log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from incident_operator.adapters.secrets import FileToken
from incident_operator.adapters.smtp import SmtpMailer
from incident_operator.adapters.subscriber_webhooks import HttpSubscriberWebhook
from incident_operator.domain.cards import verify
from incident_operator.domain.subscriptions import Email
from incident_operator.errors import DeliveryRejected, DeliveryUnavailable
from tests.fakes.ports.clock import FakeClock
from tests.fakes.webhooks import FakeWebhookReceiver
from tests.smtp_mailbox import PASSWORD, Mailbox, free_port, smtp_server

SECRET = b"subscriber-s1gning-secret"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
MAIL = Email(
    to="ann@example.com",
    subject="[Acme Status] Card payments failing: Investigating",
    text="Card payments failing\n\nInvestigating: We are looking into it.\n",
    key="0123456789abcdef01234567",
    # As long as a real one: a header longer than 78 characters must not be folded into an
    # encoded word (no mail client follows an RFC 2047-encoded List-Unsubscribe).
    unsubscribe_url="https://status.example.com/status/unsubscribe"
    "?s=0123456789abcdef&t=0123456789abcdef0123456789abcdef",
)


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as served:
        yield served


def mailer(port: int, **options: Any) -> SmtpMailer:
    return SmtpMailer(
        "127.0.0.1",
        port,
        "status@example.com",
        sender_name="Acme Status",
        security="none",
        timeout=5,
        clock=FakeClock(NOW),
        **options,
    )


async def test_a_message_arrives_with_its_key_and_unsubscribe_headers(
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    await mailer(port).send(MAIL)
    [message] = box.messages
    assert box.envelopes == [("status@example.com", ["ann@example.com"])]
    assert message["To"] == "ann@example.com"
    assert message["From"] == "Acme Status <status@example.com>"
    assert message["Subject"] == MAIL.subject
    assert message["Message-ID"] == f"<{MAIL.key}@example.com>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Unsubscribe"] == f"<{MAIL.unsubscribe_url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert payload.decode().replace("\r\n", "\n") == MAIL.text


async def test_login_uses_the_mounted_password(
    mailbox: tuple[Mailbox, int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box, port = mailbox
    secret_file = tmp_path / "password"
    secret_file.write_text(PASSWORD + "\n")
    caplog.set_level(logging.DEBUG)
    await mailer(port, username="status", password=FileToken(secret_file)).send(MAIL)
    assert len(box.messages) == 1
    secret_file.write_text("wrong-password")
    with pytest.raises(DeliveryRejected) as refused:
        await mailer(port, username="status", password=FileToken(secret_file)).send(MAIL)
    assert "535" in str(refused.value)
    assert len(box.messages) == 1
    assert PASSWORD not in caplog.text
    assert "wrong-password" not in caplog.text
    assert "wrong-password" not in str(refused.value)


async def test_a_refused_recipient_is_permanent_and_a_deferral_temporary(
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    box.refuse = "550 5.1.1 No such user"
    with pytest.raises(DeliveryRejected, match="550"):
        await mailer(port).send(MAIL)
    box.refuse = "451 4.7.1 Greylisted, try again later"
    with pytest.raises(DeliveryUnavailable, match="451"):
        await mailer(port).send(MAIL)
    assert box.messages == []


async def test_an_unreachable_server_is_temporary() -> None:
    with pytest.raises(DeliveryUnavailable, match="unreachable"):
        await mailer(free_port()).send(MAIL)


# --- webhooks ------------------------------------------------------------------------------


@pytest.fixture
async def receiver() -> AsyncIterator[FakeWebhookReceiver]:
    server = FakeWebhookReceiver(secret=SECRET)
    await server.start()
    yield server
    await server.stop()


async def test_a_webhook_arrives_signed_with_the_subscribers_secret(
    receiver: FakeWebhookReceiver,
) -> None:
    body = b'{"event":"incident-update"}'
    async with httpx.AsyncClient() as http:
        hook = HttpSubscriberWebhook(http)
        await hook.post(receiver.url, SECRET, body, event="incident-update", key="k1")
        await hook.post(receiver.url, SECRET, body, event="incident-update", key="k1")
    [delivery] = receiver.deliveries
    assert receiver.duplicates == 1
    assert delivery.body == body
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    assert headers["idempotency-key"] == "k1"
    assert headers["x-incident-operator-event"] == "incident-update"
    assert verify(
        SECRET,
        headers["x-incident-operator-timestamp"],
        body,
        headers["x-incident-operator-signature"],
        now=datetime.now(UTC),
    )


async def test_a_wrong_secret_is_refused_without_showing_secret_or_url(
    receiver: FakeWebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="incident_operator")
    caplog.set_level(logging.DEBUG, logger="httpx")
    url = receiver.url + "?token=url-t0ken"
    async with httpx.AsyncClient() as http:
        with pytest.raises(DeliveryRejected, match="401") as refused:
            await HttpSubscriberWebhook(http).post(
                url, b"not-the-secret", b"{}", event="incident-update", key="k2"
            )
    assert receiver.deliveries == []
    ours = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("incident_operator", "httpx"))
    )
    for text in (str(refused.value), ours):
        assert "url-t0ken" not in text
        assert "not-the-secret" not in text
