"""A real SMTP server (aiosmtpd) on a free port, in its own thread, that keeps what it accepts and can answer
451 or 550 to chosen addresses, or take its time."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from tests.ports import free_port


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def to(self) -> str:
        return self.rcpt_tos[0]


@dataclass
class SinkHandler:
    """Records every accepted message. `temporary_failures[address] = n`: the first n attempts to that address
    answer 451; `rejected`: addresses answered 550; `delay_seconds`: time taken per message (for the kill test)."""

    temporary_failures: dict[str, int] = field(default_factory=dict)
    rejected: set[str] = field(default_factory=set)
    delay_seconds: float = 0.0
    received: list[ReceivedMail] = field(default_factory=list)
    # When each message of `received` was accepted (time.monotonic()).
    received_at: list[float] = field(default_factory=list)
    refusals: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        with self.lock:
            if address in self.rejected:
                self.refusals.append((address, 550))
                return f"550 5.1.1 <{address}>: boîte inconnue"
            if self.temporary_failures.get(address, 0) > 0:
                self.temporary_failures[address] -= 1
                self.refusals.append((address, 451))
                return "451 4.3.0 Réessayez plus tard"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        mail = ReceivedMail(
            str(envelope.mail_from),
            list(envelope.rcpt_tos),
            message_from_bytes(envelope.original_content or b"", policy=policy.default),
        )
        with self.lock:
            self.received.append(mail)
            self.received_at.append(time.monotonic())
        return "250 Message accepted for delivery"

    def mails_to(self, address: str) -> list[ReceivedMail]:
        with self.lock:
            return [mail for mail in self.received if address in mail.rcpt_tos]

    def all(self) -> list[ReceivedMail]:
        with self.lock:
            return list(self.received)


@contextlib.contextmanager
def smtp_sink(handler: SinkHandler | None = None):  # type: ignore[no-untyped-def]
    """A real SMTP server on a free port, in its own thread."""
    handler = handler or SinkHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()
