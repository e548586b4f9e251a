"""Keys no custom field defines in the import wizard, as ``retento import`` and the API read them:
a ``custom.<key>`` or ``custom.<key>.<part>`` column is offered, suggested and named on the check
step in the reader's language, and stores what the CLI stores (a breakdown of a defined field in
that field's type); keys the custom fields could never hold and two columns for one key are
refused on the mapping step with the importer's own words (422, the column named, the choices
kept). On both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from retento.customers.models import Customer
from retento.dataio import service
from retento.dataio.mapping import Mapping
from retento.dataio.models import ImportJob
from tests.customers.test_custom_fields import FIELDS, define
from tests.dataio.wizard_support import guessed, job_id_of, run, upload
from tests.web.conftest import Browser

# loyalty_card: no field; gift_wrap: "custom.Gift-Wrap" read loosely; wallet_spend.coffee: a
# breakdown of the built-in number field wallet_spend (migration 0049), read as a number;
# Tier: a defined field by its label; custom.中文: a refused key; custom.vip.extra: a breakdown
# of the yes/no field vip, read as yes/no; Card: no field at all (mapped by hand below).
HEADER = (
    "external_id,name,custom.loyalty_card,custom.Gift-Wrap,custom.wallet_spend.coffee,Tier,"
    "custom.中文,custom.vip.extra,Card"
)
FILE = (
    f'{HEADER}\nUK1,Ann,LC-001,yes,"1,200",金卡,甲,是,C-9\nUK2,Bob,,no,300,Silver,乙,no,\n'
).encode()
GUESS = {
    "col_0": "external_id",
    "col_1": "name",
    "col_2": "custom.loyalty_card",
    "col_3": "custom.gift_wrap",
    "col_4": "custom.wallet_spend.coffee",
    "col_5": "custom.tier",
    "col_6": "",  # not a custom field key: not offered
    "col_7": "custom.vip.extra",
    "col_8": "",
}
OPTIONS_EN = [
    '<option value="custom.loyalty_card" selected>loyalty_card (not defined)</option>',
    '<option value="custom.gift_wrap" selected>gift_wrap (not defined)</option>',
    '<option value="custom.wallet_spend.coffee" selected>'
    "wallet_spend.coffee (breakdown of Spend with all suppliers (share of wallet))</option>",
    '<option value="custom.vip.extra" selected>vip.extra (breakdown of VIP)</option>',
]


@pytest.fixture
def manager(client, db, users) -> Browser:
    define(db, users["admin"], FIELDS[:2])  # tier (choice), vip (yes/no)
    web = Browser(client)
    web.login("manager")
    return web


def _mapping(web, content: bytes = FILE) -> tuple[int, str]:
    r = upload(web, "customers", "c.csv", content)
    assert r.status_code == 303, r.text
    job = job_id_of(r)
    page = web.get(f"/imports/{job}/mapping")
    assert page.status_code == 200
    return job, page.text


def _stored(db) -> dict[str, dict]:
    rows = db.execute(
        select(Customer.external_id, Customer.custom_fields).where(
            Customer.external_id.in_(["UK1", "UK2"])
        )
    )
    return {ext: dict(fields or {}) for ext, fields in rows}


def test_custom_key_columns_are_offered_suggested_and_shown_on_the_check_step(manager, db):
    job, page = _mapping(manager)
    assert guessed(page) == GUESS
    for option in OPTIONS_EN:
        # offered under "Custom fields" in every column's drop-down, selected in its own
        assert page.count(option.replace(" selected", " ")) == len(GUESS) - 1, option
        assert option in page, option
    assert 'value="custom.中文"' not in page
    r = manager.post(f"/imports/{job}/mapping", {**GUESS, "timezone": "UTC"})
    assert r.status_code == 303, r.text
    check = manager.get(f"/imports/{job}").text
    assert "<td>custom.loyalty_card</td><td>loyalty_card (not defined)</td>" in check
    assert (
        "<td>custom.wallet_spend.coffee</td>"
        "<td>wallet_spend.coffee (breakdown of Spend with all suppliers (share of wallet))</td>"
    ) in check
    assert "<td>Tier</td><td>Tier · tier</td>" in check
    assert 'id="count-rejected">0<' in check


def test_a_chinese_reader_sees_them_in_chinese(manager, db, users):
    users["manager"].locale = "zh_CN"
    db.commit()
    job, page = _mapping(manager)
    assert guessed(page) == GUESS
    assert '<option value="custom.loyalty_card" selected>loyalty_card（未定义）</option>' in page
    assert ">wallet_spend.coffee（在所有供应商处的总支出（钱包份额）的分项）</option>" in page
    assert ">vip.extra（贵宾的分项）</option>" in page
    assert "not defined" not in page
    assert manager.post(f"/imports/{job}/mapping", {**GUESS, "timezone": "UTC"}).status_code == 303
    check = manager.get(f"/imports/{job}").text
    assert "<td>custom.Gift-Wrap</td><td>gift_wrap（未定义）</td>" in check


def test_the_wizard_stores_what_the_cli_stores(manager, db, users, tmp_path):
    """The same file through ``retento import``'s service call and through the wizard: the
    same keys and the same values (strings as read for keys no field defines; the defined field
    and the breakdowns of defined fields converted to their type), and the same with a column
    mapped by hand."""
    path = tmp_path / "c.csv"
    path.write_bytes(FILE)
    # What `retento import customers c.csv` does without a mapping, and with
    # `--map Card=custom.loyalty_card --map custom.loyalty_card=-` (a column mapped by hand).
    by_hand = {"Card": "custom.loyalty_card", "custom.loyalty_card": None}
    runs = (
        ({}, {}, "LC-001"),
        (by_hand, {"col_8": "custom.loyalty_card", "col_2": ""}, "C-9"),
    )
    for columns, wizard, card in runs:
        # The refused column is left out of the CLI's run (the CLI would refuse the file).
        cli_columns = {**columns, "custom.中文": None}
        report = service.import_file(
            db, "customers", path, actor=users["admin"], mapping=Mapping(columns=cli_columns)
        )
        assert (report.created, report.rejected) == (2, 0)
        cli = _stored(db)
        db.execute(delete(Customer).where(Customer.external_id.in_(["UK1", "UK2"])))
        db.commit()
        assert _stored(db) == {}

        job, page = _mapping(manager)
        data = {**guessed(page), **wizard, "timezone": "UTC"}
        assert manager.post(f"/imports/{job}/mapping", data).status_code == 303
        assert 'id="count-created">2<' in run(manager, job, "all").text
        assert _stored(db) == cli, columns
        assert cli == {
            "UK1": {"loyalty_card": card, "gift_wrap": "yes", "wallet_spend.coffee": "1200",
                    "tier": "Gold", "vip.extra": True},
            "UK2": {"gift_wrap": "no", "wallet_spend.coffee": "300", "tier": "Silver",
                    "vip.extra": False},
        }  # fmt: skip
        db.execute(delete(Customer).where(Customer.external_id.in_(["UK1", "UK2"])))
        db.commit()


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_keys_the_custom_fields_cannot_hold_are_refused_naming_the_column(
    manager, db, users, locale
):
    users["manager"].locale = locale
    db.commit()
    job, page = _mapping(manager)
    zh = locale == "zh_CN"
    cases = [
        # a key no field could have (the CLI would store it as it reads it)
        (
            {"col_6": "custom.中文"},
            "列“custom.中文”：“中文”不是有效的自定义字段键"
            if zh
            else "Column &#39;custom.中文&#39;: &#39;中文&#39; is not a custom field key",
        ),
        (
            {"col_8": "custom.Card No"},
            "列“Card”：“Card No”不是有效的自定义字段键"
            if zh
            else "Column &#39;Card&#39;: &#39;Card No&#39; is not a custom field key",
        ),
        # two columns for one undefined key: the importer's own header check
        (
            {"col_8": "custom.loyalty_card"},
            "列 &#39;custom.loyalty_card&#39; 和 &#39;Card&#39; 都对应字段"
            if zh
            else "columns &#39;custom.loyalty_card&#39; and &#39;Card&#39; both give field "
            "&#39;custom.loyalty_card&#39;",
        ),
    ]
    for choice, text in cases:
        sent = {**GUESS, **choice, "col_3": "", "timezone": "Asia/Shanghai"}
        r = manager.post(f"/imports/{job}/mapping", sent)
        assert r.status_code == 422 and text in r.text, (choice, r.text)
        # The page comes back with the choices as sent, the refused one too.
        back = guessed(r.text)
        assert back == {k: v for k, v in sent.items() if k != "timezone"}, back
        assert 'value="Asia/Shanghai"' in r.text
    # Two refused columns at once: both named in the problems list.
    sent = {**GUESS, "col_6": "custom.中文", "col_8": "custom.9x", "timezone": "UTC"}
    r = manager.post(f"/imports/{job}/mapping", sent)
    assert r.status_code == 422
    problems = r.text.split('id="mapping-problems"')[1].split("</ul>")[0]
    assert "<code>custom.中文</code>" in problems and "<code>Card</code>" in problems
    # Nothing was kept: the stored mapping is still the guess, the job still uploaded.
    assert guessed(manager.get(f"/imports/{job}/mapping").text) == GUESS


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_a_bad_breakdown_value_is_a_row_error_on_the_check_step(manager, db, users, locale):
    """As the CLI: the breakdowns of the number field wallet_spend and of the yes/no field vip
    are checked with their field's type, the row and column named in the reader's language."""
    users["manager"].locale = locale
    db.commit()
    bad = FILE.replace(b'"1,200"', b"a lot").replace("是".encode(), b"maybe")
    job, page = _mapping(manager, bad)
    assert manager.post(f"/imports/{job}/mapping", {**GUESS, "timezone": "UTC"}).status_code == 303
    check = manager.get(f"/imports/{job}").text
    assert 'id="count-rejected">1<' in check
    zh = locale == "zh_CN"
    for column, reason in (
        ("custom.wallet_spend.coffee", "必须是数字，例如 12.50。" if zh else "Must be a number"),
        ("custom.vip.extra", "必须是“是”或“否”。" if zh else "Must be yes or no."),
    ):
        row = f'<td class="num">2</td><td><code>{column}</code></td>'
        assert row in check, check
        assert reason in check
    assert ("Must be" in check) is not zh
    # All-or-nothing: importing every row fails and writes nothing.
    run(manager, job, "all")
    db.expire_all()
    assert db.get(ImportJob, job).status == "failed"
    assert _stored(db) == {}
