"""SMTP sending over a small pool of kept-open connections (aiosmtplib), with the server's answer classified:
2xx sent, 4xx (or no answer at all) try again later, 5xx give up. The envelope is the one build_mail checked:
the recipients are never taken from the headers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from enum import StrEnum

import aiosmtplib
from opentelemetry import trace

from services.notifications.config import NotificationsSettings
from services.notifications.email.message import OutgoingMail

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


class SendResult(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class SendOutcome:
    result: SendResult
    reply: str

    @classmethod
    def from_code(cls, code: int, message: str) -> SendOutcome:
        # Anything but a 5xx (timeouts, 4xx, a confused server) is worth another try later.
        result = SendResult.PERMANENT if 500 <= code < 600 else SendResult.TEMPORARY
        return cls(result, f"{code} {message}".strip()[:1000])


class SmtpPool:
    """`size` connections opened on demand and kept open between messages."""

    def __init__(self, settings: NotificationsSettings, size: int | None = None) -> None:
        self.settings = settings
        self.size = size or settings.smtp_connections
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        for _ in range(self.size):
            self._idle.put_nowait(self._client())

    def _client(self) -> aiosmtplib.SMTP:
        settings = self.settings
        return aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            use_tls=settings.smtp_tls,
            start_tls=settings.smtp_starttls if not settings.smtp_tls else False,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout_seconds,
        )

    async def send(self, mail: OutgoingMail) -> SendOutcome:
        """Send one message on a free connection (waiting for one if all are busy), in a CLIENT span."""
        client = await self._idle.get()
        with tracer.start_as_current_span(
            "smtp sendmail",
            kind=trace.SpanKind.CLIENT,
            attributes={"server.address": self.settings.smtp_host, "server.port": self.settings.smtp_port},
        ) as span:
            outcome = await self._send(client, mail)
            span.set_attribute("smtp.reply", outcome.reply)
            if outcome.result is not SendResult.SENT:
                span.set_status(trace.StatusCode.ERROR, outcome.result)
        return outcome

    async def _send(self, client: aiosmtplib.SMTP, mail: OutgoingMail) -> SendOutcome:
        try:
            if not client.is_connected:
                await client.connect()
            await client.sendmail(mail.sender, [mail.recipient], mail.as_bytes())
            return SendOutcome(SendResult.SENT, "250")
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            return SendOutcome.from_code(refused.code, refused.message)
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code in (421, -1):  # the server is closing the connection: open a new one next time
                await self._close(client)
            return SendOutcome.from_code(exc.code, exc.message)
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            await self._close(client)
            return SendOutcome(SendResult.TEMPORARY, f"{type(exc).__name__}: {exc}"[:1000])
        finally:
            self._idle.put_nowait(client)

    async def _close(self, client: aiosmtplib.SMTP) -> None:
        with contextlib.suppress(Exception):
            client.close()

    async def close(self) -> None:
        """Say QUIT on every open connection."""
        while not self._idle.empty():
            client = self._idle.get_nowait()
            if client.is_connected:
                with contextlib.suppress(Exception):
                    await client.quit()
