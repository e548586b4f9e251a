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


def _auto(subject: str, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Ann Customer <ann@example.com>")
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("I am out of the office until Monday.")
    return msg.as_bytes()


def test_auto_replies_and_bounces_are_recognised():
    subject = "Automatic reply: About your complaint RC-ABCDEFGHJK"
    assert parse(_auto(subject, Auto_Submitted="auto-replied")).automatic
    assert parse(_auto(subject, Precedence="bulk")).automatic
    assert parse(_auto(subject, X_Autoreply="yes")).automatic
    assert parse(_auto("Undeliverable: RC-ABCDEFGHJK", From="MAILER-DAEMON@mx.example")).automatic
    report = EmailMessage()
    report["From"] = "Mail Delivery System <bounces@mx.example>"
    report["Subject"] = "Delivery failed: RC-ABCDEFGHJK"
    report.set_content("Your message could not be delivered.")
    report.make_mixed()
    report.replace_header("Content-Type", 'multipart/report; report-type="delivery-status"')
    assert parse(report.as_bytes()).automatic
    # A person's reply, also one saying "Auto-Submitted: no", is not.
    assert not parse(_auto("Re: RC-ABCDEFGHJK", Auto_Submitted="no")).automatic
    assert not parse(_raw("Re: RC-ABCDEFGHJK", "Thanks")).automatic


def test_an_auto_reply_is_accepted_and_filed_nowhere():
    from retento.mail import inbound

    seen = []
    route = inbound.InboundRoute("probe", lambda s: "k" if "RC-" in s else None, seen.append)
    inbound.register_inbound(route)
    try:
        answer = inbound.accept(
            None, _auto("Automatic reply: RC-ABCDEFGHJK", Auto_Submitted="auto-replied")
        )  # type: ignore[arg-type]
    finally:
        inbound.ROUTES[:] = [r for r in inbound.ROUTES if r.name != "probe"]
    assert answer.startswith("250") and seen == []
