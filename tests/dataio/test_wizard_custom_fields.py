"""Custom fields in the import wizard's mapping step: listed in the drop-down with their label in
the reader's language, guessed from headers by key or label, chosen by hand with the importer's
type checks and row errors; the check step names the field. On both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from retento.customers.models import Customer
from tests.customers.test_custom_fields import FIELDS, define
from tests.dataio.wizard_support import guessed, job_id_of, run, upload
from tests.web.conftest import Browser

# Level: no field's name (chosen by hand); 贵宾: vip's Chinese label; budget: a key; Misc: nothing.
FILE = (
    "external_id,name,Level,贵宾,budget,Misc\nWC1,Ann,金卡,是,12.50,x\nWC2,Bob,Platinum,no,,y\n"
).encode()


@pytest.fixture
def manager(client, db, users) -> Browser:
    define(db, users["admin"], FIELDS[:3])  # tier (choice), vip (yes/no), budget (number)
    web = Browser(client)
    web.login("manager")
    return web


def _mapping(web) -> tuple[int, str]:
    r = upload(web, "customers", "c.csv", FILE)
    assert r.status_code == 303, r.text
    job = job_id_of(r)
    page = web.get(f"/imports/{job}/mapping")
    assert page.status_code == 200
    return job, page.text


def test_a_column_mapped_by_hand_imports_into_the_custom_field(manager, db):
    job, page = _mapping(manager)
    assert guessed(page) == {
        "col_0": "external_id",
        "col_1": "name",
        "col_2": "",
        "col_3": "custom.vip",
        "col_4": "custom.budget",
        "col_5": "",
    }
    assert '<optgroup label="Custom fields">' in page
    assert '<option value="custom.tier" >Tier · tier</option>' in page
    data = {**guessed(page), "col_2": "custom.tier", "timezone": "UTC"}
    assert manager.post(f"/imports/{job}/mapping", data).status_code == 303
    check = manager.get(f"/imports/{job}").text
    # The check step names the field each column feeds; the bad choice is line 3, column Level.
    assert "<td>Level</td><td>Tier · tier</td>" in check
    assert 'id="count-rejected">1<' in check
    assert '<td class="num">3</td><td><code>Level</code></td>' in check
    assert "&#39;Platinum&#39; is not one of: Gold, Silver." in check
    assert 'id="count-created">1<' in run(manager, job, "skip").text
    stored = db.scalar(select(Customer.custom_fields).where(Customer.external_id == "WC1"))
    assert stored == {"tier": "Gold", "vip": True, "budget": "12.50"}  # Misc: not imported


def test_chinese_reader_sees_the_chinese_labels(manager, db, users):
    users["manager"].locale = "zh_CN"
    db.commit()
    job, page = _mapping(manager)
    assert '<optgroup label="自定义字段">' in page
    assert ">等级 · tier</option>" in page and "Budget · budget</option>" in page
    data = {**guessed(page), "col_2": "custom.tier", "timezone": "UTC"}
    assert manager.post(f"/imports/{job}/mapping", data).status_code == 303
    assert "<td>Level</td><td>等级 · tier</td>" in manager.get(f"/imports/{job}").text


def test_unknown_bad_or_doubled_custom_fields_stay_on_the_mapping_step(manager):
    """A target that is no field, a custom key no field could have, or one field for two columns
    is refused; an undefined key the CLI imports is not (tests/dataio/test_wizard_undefined_keys)."""
    job, page = _mapping(manager)
    for col, target, text in (
        ("col_2", "nope", "&#39;nope&#39; is not a field of customers."),
        ("col_2", "custom.9x", "Column &#39;Level&#39;: &#39;9x&#39; is not a custom field key"),
        ("col_2", "custom.vip", "columns &#39;Level&#39; and &#39;贵宾&#39; both give field"),
    ):
        sent = {**guessed(page), col: target, "col_5": "note", "timezone": "Asia/Shanghai"}
        r = manager.post(f"/imports/{job}/mapping", sent)
        assert r.status_code == 422 and text in r.text, r.text
        # The page comes back with what was sent, not the stored guesses: fix one, keep the rest.
        back = guessed(r.text)
        assert back["col_5"] == "note" and back["col_3"] == "custom.vip", back
        assert 'value="Asia/Shanghai"' in r.text
        if target.startswith("custom."):
            assert back["col_2"] == target
