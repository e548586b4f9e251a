"""Parsing inbound replies with the standard library: the plain part, quoted text trimmed."""

from __future__ import annotations

from email.message import EmailMessage

from retento.mail.inbound import parse, trim_reply


def _raw(subject: str, text: str | None = None, html: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann Customer <Ann@Example.com>"
    msg["To"] = "service@shop.example"
    msg["Subject"] = subject
    msg["Message-ID"] = "<abc@example.com>"
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def test_plain_part_with_quote_and_signature_trimmed():
    body = (
        "Thanks, the new vase arrived.\nAll good now.\n\n"
        "On Mon, 1 Dec 2026 at 10:00, Shop <service@shop.example> wrote:\n"
        "> Dear Ann,\n> A new vase is on its way.\n"
    )
    mail = parse(_raw("Re: About your complaint RC-ABCDEFGHJK", body, "<p>ignored</p>"))
    assert mail.sender == "ann@example.com" and mail.message_id == "<abc@example.com>"
    assert mail.subject == "Re: About your complaint RC-ABCDEFGHJK"
    assert mail.text == "Thanks, the new vase arrived.\nAll good now."


def test_chinese_quote_header_inline_quotes_and_signature():
    assert trim_reply("收到了，谢谢。\n\n在 2026年12月1日 写道：\n> 原文") == "收到了，谢谢。"
    assert trim_reply("Yes.\n> quoted\nStill mine.\n-- \nAnn") == "Yes.\nStill mine."
    assert trim_reply("Fine\n-----Original Message-----\nFrom: x") == "Fine"


def test_html_only_message_is_read_as_text():
    mail = parse(_raw("Re: RC-ABCDEFGHJK", html="<div>It works &amp; thanks<br>Ann</div>"))
    assert mail.text == "It works & thanks\nAnn"
