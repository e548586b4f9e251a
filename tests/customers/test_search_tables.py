"""The search's own tables (migration 0022) follow every write path, on SQLite and PostgreSQL
(the ``db`` fixture runs on both) and with real commits on PostgreSQL; a search's total is
capped and says so (API, web)."""

from __future__ import annotations

from sqlalchemy import select, text, update

from retento.core.db import utcnow
from retento.customers import merge, privacy, search, service
from retento.customers.models import Customer
from retento.customers.schemas import ContactIn, CustomerCreate, CustomerUpdate
from retento.customers.search_tables import SEP, NameWord, SearchRow


def _row(db, cid: int) -> SearchRow | None:
    db.flush()
    db.expire_all()
    return db.get(SearchRow, cid)


def _words(db) -> set[str]:
    db.flush()
    return set(db.scalars(select(NameWord.word)))


def _create(db, users, **kw) -> Customer:
    return service.create_customer(db, CustomerCreate(**kw), actor=users["manager"], force=True)


def _names(db, users, q, **kw):
    rows, total, lower = service.list_customers_page(db, actor=users["manager"], q=q, **kw)
    return [c.name for c in rows], total, lower


def test_insert_writes_one_narrow_row_and_the_name_words(db, users):
    c = _create(
        db,
        users,
        name="Ava Kowalczyk",
        email="Ava.K@Example.com",
        phone="+44 (20) 7946-0958",
        external_id="EXT-9",
        contacts=[ContactIn(name="Bob Stone", email="bob@acme.example", phone="021 5555 0199")],
    )
    row = _row(db, c.id)
    assert row is not None and row.archived is False and row.name_key == "ava kowalczyk"
    fields = row.hay.split(SEP)
    assert fields[0] == "" and fields[-1] == ""
    assert {"ava kowalczyk", "ava.k@example.com", "ext-9", "bob stone", "bob@acme.example"} <= set(
        fields
    )
    assert set(row.digits.split(SEP)) == {"", "442079460958", "02155550199"}
    assert {"ava", "kowalczyk"} <= _words(db)


def test_chinese_names_are_spaced_and_not_name_words(db, users):
    c = _create(db, users, name="王小明")
    assert " 王 小 明 " in _row(db, c.id).hay
    assert "王小明" not in _words(db)
    assert _names(db, users, "小明")[0] == ["王小明"]


def test_update_rewrites_the_row_and_drops_words_nobody_has(db, users):
    c = _create(db, users, name="Zed Quixotic", phone="111-2222")
    _create(db, users, name="Amy Zed")
    assert {"quixotic", "zed"} <= _words(db)
    service.update_customer(
        db,
        c.id,
        CustomerUpdate(name="Zed Plain", phone="333 4444", email="zed@example.org"),
        actor=users["manager"],
    )
    row = _row(db, c.id)
    assert row.name_key == "zed plain" and "zed@example.org" in row.hay
    assert "1112222" not in row.digits and f"{SEP}3334444{SEP}" in row.digits
    words = _words(db)
    # "quixotic" was only this customer's; "zed" is still Amy Zed's too.
    assert "quixotic" not in words and {"zed", "plain"} <= words
    assert _names(db, users, "quixotic")[0] == []
    assert _names(db, users, "zed@example")[0] == ["Zed Plain"]


def test_contacts_added_changed_and_removed(db, users):
    c = _create(db, users, name="Acme Trading")
    service.update_customer(
        db,
        c.id,
        CustomerUpdate(contacts=[ContactIn(name="Mei Lin", phone="021-6666 7777")]),
        actor=users["manager"],
    )
    row = _row(db, c.id)
    assert "mei lin" in row.hay.split(SEP) and "02166667777" in row.digits
    assert _names(db, users, "6666 7777")[0] == ["Acme Trading"]
    service.update_customer(db, c.id, CustomerUpdate(contacts=[]), actor=users["manager"])
    row = _row(db, c.id)
    assert "mei lin" not in row.hay and row.digits.strip(SEP) == ""
    assert _names(db, users, "mei lin")[0] == []


def test_archive_and_restore_flip_the_flag(db, users):
    c = _create(db, users, name="Hidden Person")
    service.archive_customer(db, c.id, actor=users["manager"])
    assert _row(db, c.id).archived is True
    assert _names(db, users, "hidden")[0] == []
    assert _names(db, users, "hidden", archived=True)[0] == ["Hidden Person"]
    service.restore_customer(db, c.id, actor=users["manager"])
    assert _row(db, c.id).archived is False
    assert _names(db, users, "hidden")[0] == ["Hidden Person"]


def test_erasure_leaves_no_personal_text_or_name_word(db, users):
    c = _create(
        db,
        users,
        name="Erasmus Vandersloot",
        email="erasmus@example.com",
        phone="+1 555 0100 999",
        contacts=[ContactIn(name="Aide Person", phone="021 8888 9999")],
    )
    assert "vandersloot" in _words(db)
    privacy.erase_customer(db, c.id, actor=users["admin"])
    row = _row(db, c.id)
    assert row.archived is True
    for personal in ("erasmus", "vandersloot", "5550100999", "88889999", "aide person"):
        assert personal not in row.hay and personal not in row.digits
    assert "vandersloot" not in _words(db)
    assert _names(db, users, "vandersloot", archived=None)[0] == []


def test_merge_moves_the_contacts_and_archives_the_duplicate(db, users):
    keep = _create(db, users, name="Olga Petrova")
    dup = _create(
        db,
        users,
        name="Olga Petrova Dup",
        contacts=[ContactIn(name="Ivan Sidorov", phone="495 123 4567")],
    )
    merge.merge_customers(db, keep.id, dup.id, actor=users["manager"])
    kept, gone = _row(db, keep.id), _row(db, dup.id)
    assert "ivan sidorov" in kept.hay and "4951234567" in kept.digits
    assert gone.archived is True and "ivan sidorov" not in gone.hay
    assert _names(db, users, "sidorov")[0] == ["Olga Petrova"]


def test_delete_removes_the_row_and_its_words(db, users):
    c = _create(db, users, name="Mistaken Entryson")
    cid = c.id
    service.purge_customer(db, cid, actor=users["admin"])
    assert _row(db, cid) is None
    assert "entryson" not in _words(db)


def test_typo_is_matched_against_name_words(db, users):
    _create(db, users, name="Ava Campbell")
    _create(db, users, name="Bob Stone")
    assert _names(db, users, "Campell")[0] == ["Ava Campbell"]
    assert _names(db, users, "Ava Campbel")[0] == ["Ava Campbell"]
    # Each word of 4+ letters is compared with the name words.
    assert set(_names(db, users, "Campell Stonne")[0]) == {"Ava Campbell", "Bob Stone"}
    ranked = search.search(db, "campbel")
    # "campbel" is a prefix of the word (strict), not a typo.
    assert [search.rank_label(r) for _, r in ranked] == ["prefix"]


def test_a_search_counts_up_to_the_cap_and_says_so(db, users, monkeypatch):
    monkeypatch.setattr(search, "COUNT_CAP", 5)
    for i in range(8):
        _create(db, users, name=f"Ann Brownlee {i}")
    _create(db, users, name="Brownlee")  # exact match, created last
    names, total, lower = _names(db, users, "brownlee", limit=3)
    assert (total, lower) == (6, True)
    assert names[0] == "Brownlee" and len(names) == 3
    assert service.count_customers(db, q="brownlee") == 6
    # A page past the cap ranks every match: the last of the 9 is found.
    names, total, lower = _names(db, users, "brownlee", limit=3, offset=6)
    assert len(names) == 3 and lower is True
    # Under the cap the total is exact.
    names, total, lower = _names(db, users, "brownlee 1")
    assert (names, total, lower) == (["Ann Brownlee 1"], 1, False)
    # A list without a search counts exactly, whatever the cap.
    _, total, lower = service.list_customers_page(db, actor=users["manager"])
    assert total >= 9 and lower is False
    # A sorted search counts up to the cap too.
    _, total, lower = _names(db, users, "brownlee", sort="name")
    assert (total, lower) == (6, True)


def test_api_and_web_show_the_capped_total(client, tokens, db, users, monkeypatch):
    from tests.web.conftest import Browser

    monkeypatch.setattr(search, "COUNT_CAP", 3)
    for i in range(5):
        _create(db, users, name=f"Cara Mcdonagh {i}")
    db.flush()
    r = client.get("/api/v1/customers", params={"q": "mcdonagh"}, headers=tokens["manager"])
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 4 and body["total_is_lower_bound"] is True
    assert len(body["items"]) == 5  # the page itself is not cut
    r = client.get("/api/v1/customers", params={"q": "mcdonagh 2"}, headers=tokens["manager"])
    assert r.json()["total"] == 1 and r.json()["total_is_lower_bound"] is False
    schema = client.get("/openapi.json").json()["components"]["schemas"]["CustomerPage"]
    assert "total_is_lower_bound" in schema["properties"]
    web = Browser(client)
    web.login("agent")
    count = web.get("/customers/count", params={"q": "mcdonagh"})
    assert count.status_code == 200 and "More than 3 customers match" in count.text
    count = web.get("/customers/count", params={"q": "mcdonagh 1"})
    assert count.status_code == 200 and "1 customer matches" in count.text


def test_committed_postgres_bulk_statements_fill_the_tables(live_pg):
    """Statement-level triggers on PostgreSQL: one multi-row INSERT, multi-row UPDATEs."""
    with live_pg.session() as s:
        s.add_all(
            [
                Customer(name=f"Bulk Word{n}", name_key=f"bulk word{n}", phone=f"555-01{n}")
                for n in (1, 2, 3)
            ]
        )
        s.commit()
        got = s.execute(text("SELECT name_key, digits FROM customer_search ORDER BY 1")).all()
        assert [g[0] for g in got] == ["bulk word1", "bulk word2", "bulk word3"]
        assert got[0][1] == f"{SEP}555011{SEP}"
        s.execute(
            update(Customer).where(Customer.name_key != "bulk word1").values(archived_at=utcnow())
        )
        s.execute(
            update(Customer)
            .where(Customer.name_key == "bulk word1")
            .values(name="Bulk Renamed", name_key="bulk renamed")
        )
        s.commit()
        flags = dict(s.execute(text("SELECT name_key, archived FROM customer_search")).all())
        assert flags == {"bulk renamed": False, "bulk word2": True, "bulk word3": True}
        words = set(s.scalars(text("SELECT word FROM customer_name_words")))
        assert {"bulk", "renamed", "word2", "word3"} <= words and "word1" not in words
        assert [c.name for c, _ in search.search(s, "bulk")] == ["Bulk Renamed"]
        assert [c.name for c, _ in search.search(s, "Renamd")] == ["Bulk Renamed"]
