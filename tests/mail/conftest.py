"""A real SMTP server (aiosmtpd) on 127.0.0.1 with a free port, run in this process."""

from __future__ import annotations

import socket
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
from aiosmtpd.controller import Controller

from retento.core.config import Settings


class Recorder:
    """Accepts mail; recipients starting with ``temp`` get 451 (try later), ``bounce`` 550."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("temp"):
            return "451 4.3.0 Mailbox busy, try again later"
        if address.startswith("bounce"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=default)
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(name="smtp_server")
def smtp_server_fixture():
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield recorder, controller.port
    finally:
        controller.stop()


def mail_settings(port: int, **over) -> Settings:
    values = {
        "database_url": "sqlite://",
        "secret_key": "test",
        "run_scheduler": False,
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": False,
        "mail_from": "Retento <noreply@retento.test>",
        "public_base_url": "https://shop.example",
        "mail_max_attempts": 3,
    }
    values.update(over)
    return Settings(**values)


@pytest.fixture(name="smtp")
def smtp_fixture(smtp_server):
    """``(recorder, settings)`` for a live local SMTP server."""
    recorder, port = smtp_server
    return recorder, mail_settings(port)
