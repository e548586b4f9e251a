"""The counts of a notification read grouped in the recipient's language (QA: "Import of
big.csv finished: 100000 rows" where the import's result page says "100,000"), in the inbox, in
the e-mail and in the stored (English) text; a number that names something (a run's "#12345")
is not grouped."""

from __future__ import annotations

from retento.dataio.notifications import import_finished
from retento.notifications.kinds import render_text
from retento.notifications.service import notify, save_preferences
from tests.notifications.helpers import got, outbox
from tests.web.conftest import Browser


def test_the_import_finished_counts_are_grouped_in_each_language(client, db, users):
    manager = users["manager"]
    import_finished(db, manager, key="big", file_name="big.csv", rows=100000, rejected=1234)
    db.commit()
    [n] = got(db, manager, "import_finished")
    assert n.params["rows"] == 100000  # stored as the number it is
    assert n.message == "Import of big.csv finished: 100,000 rows, 1,234 rejected."
    assert render_text(n.kind, n.params, "zh_CN", n.message) == (
        "big.csv 导入完成：100,000 行，拒绝 1,234 行。"
    )
    web = Browser(client)
    web.login("manager")
    for lang, text in (
        ("en", "Import of big.csv finished: 100,000 rows, 1,234 rejected."),
        ("zh_CN", "big.csv 导入完成：100,000 行，拒绝 1,234 行。"),
    ):
        web.post("/locale", {"lang": lang, "next": "/notifications"})
        page = web.get("/notifications").text
        assert text in page, lang
        assert "100000" not in page


def test_the_email_of_a_chinese_reader_groups_them_too(db, users):
    admin = users["admin"]
    admin.locale, admin.email = "zh_CN", "admin@example.com"
    save_preferences(db, {"import_finished": "email"}, actor=admin)
    import_finished(db, admin, key="mail", file_name="a.csv", rows=25000, rejected=0)
    db.flush()
    [mail] = outbox(db, "notification")
    assert "a.csv 导入完成：25,000 行，拒绝 0 行。" in mail.body_text


def test_a_run_number_is_not_grouped_but_its_customers_are(db, users):
    [n] = notify(
        db, "scoring_finished", [users["analyst"]], key="run-12345",
        params={"run": 12345, "customers": 2500000},
    )  # fmt: skip
    assert n.message == "Scoring run #12345 finished: 2,500,000 customers scored."
    assert render_text(n.kind, n.params, "zh_CN", n.message) == (
        "评分运行 #12345 已完成：已为 2,500,000 位客户评分。"
    )
