"""Customer search: substring, Chinese characters, digits, contacts, fuzzy, ranking; on SQLite
and PostgreSQL (the ``db`` fixture runs on both) and on a committed PostgreSQL database."""

from __future__ import annotations

from retento.customers import search, service
from retento.customers.models import Contact, Customer, SearchGram
from retento.customers.schemas import ContactIn, CustomerCreate, CustomerUpdate
from tests.factories import make_customer


def _names(db, users, q, **kw):
    rows, total = service.list_customers(db, actor=users["manager"], q=q, **kw)
    return [c.name for c in rows], total


def _people(db, users):
    mk = lambda **kw: service.create_customer(db, CustomerCreate(**kw), actor=users["manager"])  # noqa: E731
    mk(name="Ava Clark", email="ava.clark.584@example.com", phone="+44 7000000584")
    mk(name="王小明", phone="+86 138 0013 8000", email="dc0000001@example.cn")
    mk(name="李明", external_id="DC0000002")
    mk(name="Zhang Wei", contacts=[ContactIn(name="Bob Marley", phone="(021) 5555-0199")])
    mk(name="Nobody Special", email="n@example.org")
    db.flush()


def test_the_four_examples_from_the_issue(db, users):
    _people(db, users)
    assert _names(db, users, "Clark")[0] == ["Ava Clark"]
    assert set(_names(db, users, "明")[0]) == {"王小明", "李明"}
    assert _names(db, users, "ava.clark")[0] == ["Ava Clark"]
    assert _names(db, users, "7000000584")[0] == ["Ava Clark"]


def test_digits_ignore_spaces_and_punctuation_and_contacts_are_searched(db, users):
    _people(db, users)
    assert _names(db, users, "0013-8000")[0] == ["王小明"]
    assert _names(db, users, "138 0013")[0] == ["王小明"]
    # A contact's phone typed differently from how it was stored, and a contact's name.
    assert _names(db, users, "5555 0199")[0] == ["Zhang Wei"]
    assert _names(db, users, "marley")[0] == ["Zhang Wei"]
    # External id fragment, case-insensitive.
    assert _names(db, users, "c0000002")[0] == ["李明"]
    # Two Chinese characters in a row, and a given name only.
    assert _names(db, users, "小明")[0] == ["王小明"]
    # A Chinese contact's name, whole or from its start, and three characters anywhere in it
    # (only the customer's own name was searched).
    mk = lambda **kw: service.create_customer(db, CustomerCreate(**kw), actor=users["manager"])  # noqa: E731
    mk(
        name="成都新锐贸易有限公司",
        contacts=[ContactIn(name="赵采购"), ContactIn(name="欧阳采购员")],
    )
    db.flush()
    for q in ("赵采购", "赵", "赵采", "欧阳", "采购员", "新锐"):
        assert _names(db, users, q)[0] == ["成都新锐贸易有限公司"], q
    assert _names(db, users, "Nothing like this")[0] == []


def test_ranking_exact_prefix_substring_fuzzy(db, users):
    for name in ("Mary Clarkson", "Clarkson", "Clarksons Ltd", "Joe Clarkso", "Clorksen"):
        make_customer(db, name=name)
    db.flush()
    names, total = _names(db, users, "clarkson")
    # exact, then prefixes (name and word prefix, by name), then fuzzy (typo) matches.
    assert names[0] == "Clarkson"
    assert set(names[1:3]) == {"Clarksons Ltd", "Mary Clarkson"}
    assert "Joe Clarkso" in names[3:]
    assert total == len(names)
    ranked = search.search(db, "clarkson", limit=10)
    labels = [search.rank_label(r) for _, r in ranked]
    assert labels[:3] == ["exact", "prefix", "prefix"]
    assert labels[3:] and set(labels[3:]) == {"fuzzy"}
    assert labels == sorted(labels, key=["exact", "prefix", "substring", "fuzzy"].index)


def test_substring_ranks_before_fuzzy(db, users):
    make_customer(db, name="Ava Mcclark")  # substring of a word
    make_customer(db, name="Clark")  # exact
    make_customer(db, name="Clerk Kent")  # fuzzy
    db.flush()
    ranked = search.search(db, "clark", limit=10)
    got = [(c.name, search.rank_label(r)) for c, r in ranked]
    assert got[0] == ("Clark", "exact")
    assert ("Ava Mcclark", "substring") in got
    if ("Clerk Kent", "fuzzy") in got:
        assert got.index(("Ava Mcclark", "substring")) < got.index(("Clerk Kent", "fuzzy"))


def test_typo_finds_the_name(db, users):
    make_customer(db, name="Ava Clarkson")
    make_customer(db, name="Bob Stone")
    db.flush()
    assert _names(db, users, "clarkosn")[0] == ["Ava Clarkson"]


def test_search_columns_follow_edits_and_archiving_hides(db, users):
    c = service.create_customer(db, CustomerCreate(name="Old Name"), actor=users["manager"])
    service.update_customer(
        db,
        c.id,
        CustomerUpdate(name="张伟", phone="+86 (10) 1234-5678", contacts=[ContactIn(name="Mei")]),
        actor=users["manager"],
    )
    db.flush()
    db.expire_all()
    row = db.get(Customer, c.id)
    assert row.phone_digits == "8610123456789"[: len(row.phone_digits)] == "861012345678"
    assert row.name_chars == " 张 伟 "
    assert _names(db, users, "伟")[0] == ["张伟"]
    assert _names(db, users, "old name")[0] == []
    assert _names(db, users, "12345678")[0] == ["张伟"]
    service.archive_customer(db, c.id, actor=users["manager"])
    assert _names(db, users, "伟")[0] == []
    assert _names(db, users, "伟", archived=None)[0] == ["张伟"]


def test_contacts_rows_keep_digits_and_grams(db, users, backend):
    c = service.create_customer(
        db,
        CustomerCreate(name="Acme", contacts=[ContactIn(name="Li", phone="021-6666 7777")]),
        actor=users["manager"],
    )
    db.flush()
    db.expire_all()
    k = db.query(Contact).filter_by(customer_id=c.id).one()
    assert k.phone_digits == "02166667777"
    grams = db.query(SearchGram).filter_by(customer_id=c.id).count()
    assert (grams > 0) if backend == "sqlite" else (grams == 0)
    service.update_customer(db, c.id, CustomerUpdate(contacts=[]), actor=users["manager"])
    db.flush()
    assert _names(db, users, "6666")[0] == []


def test_api_and_web_use_the_same_search(client, tokens, db, users):
    _people(db, users)
    h = tokens["manager"]
    r = client.get("/api/v1/customers", params={"q": "7000000584"}, headers=h)
    assert r.status_code == 200
    assert [c["name"] for c in r.json()["items"]] == ["Ava Clark"]
    r = client.get("/api/v1/customers", params={"q": "明"}, headers=h)
    assert {c["name"] for c in r.json()["items"]} == {"王小明", "李明"}
    assert r.json()["total"] == 2


def test_like_wildcards_in_the_query_are_literal(db, users):
    make_customer(db, name="100% Cotton")
    make_customer(db, name="Plain Shop")
    db.flush()
    assert _names(db, users, "100%")[0] == ["100% Cotton"]
    assert _names(db, users, "_")[0] == []


def test_search_on_committed_postgres(live_pg):
    """Real commits on PostgreSQL: triggers, pg_trgm indexes and the fuzzy threshold."""
    from sqlalchemy import text

    from retento.auth.models import User

    with live_pg.session() as s:
        admin = User(username="boss", role="admin", password_hash="x", is_active=True)
        s.add(admin)
        s.flush()
        for name in ("Ava Clark", "王小明", "Clarkson Wu"):
            service.create_customer(
                s, CustomerCreate(name=name, phone="+1 (555) 010-2030"), actor=admin, force=True
            )
        s.commit()
        assert s.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")) == 1
        assert s.scalar(text("SHOW pg_trgm.word_similarity_threshold")) == str(
            search.FUZZY_THRESHOLD
        )
        got = [c.name for c, _ in search.search(s, "clark")]
        assert got[:2] == ["Ava Clark", "Clarkson Wu"]
        assert [c.name for c, _ in search.search(s, "明")] == ["王小明"]
        assert len(search.search(s, "555-010")) == 3
        assert [c.name for c, _ in search.search(s, "Clakr")][:1] == ["Ava Clark"]
        plan = "\n".join(
            r[0]
            for r in s.execute(
                text("EXPLAIN SELECT id FROM customers WHERE name_key LIKE '%clark%'")
            )
        )
        # Tiny tables may be scanned; the GIN index exists and is usable.
        assert (
            s.scalar(
                text(
                    "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_customers_name_key_trgm'"
                )
            )
            == 1
        )
        assert "customers" in plan


def test_file_import_and_reimport_keep_the_search_columns(db, users):
    from retento.dataio import service as dataio

    csv = (
        "external_id,name,email,phone\n"
        "IMP-1,陈美玲,mei@example.cn,+86 (21) 5050-6060\n"
        "IMP-2,Olga Petrova,olga@example.com,\n"
    ).encode()
    dataio.import_file(db, "customers", csv, actor=users["admin"], name="c.csv")
    assert _names(db, users, "美")[0] == ["陈美玲"]
    assert _names(db, users, "5050 6060")[0] == ["陈美玲"]
    assert _names(db, users, "petro")[0] == ["Olga Petrova"]
    # Re-import changes the phone: the old digits no longer match, the new ones do.
    csv2 = "external_id,name,email,phone\nIMP-1,陈美玲,mei@example.cn,021-7070 8080\n".encode()
    dataio.import_file(db, "customers", csv2, actor=users["admin"], name="c2.csv")
    db.expire_all()
    assert _names(db, users, "5050 6060")[0] == []
    assert _names(db, users, "70708080")[0] == ["陈美玲"]


def test_demo_customers_are_searchable(db, users):
    from datetime import date

    from retento.demo import generator

    # The demo's own steps make its customers; the other domains' steps (scoring, complaints,
    # loyalty...) only add records about them, so they are left out here.
    generator.generate(db, customers=60, seed=3, today=date(2026, 6, 1), steps=generator.STEPS)
    c = db.query(Customer).filter(Customer.phone.is_not(None)).order_by(Customer.id).first()
    fragment = search.digits(c.phone)[-7:]
    hits = [x.id for x, _ in search.search(db, fragment[:3] + "-" + fragment[3:], limit=100)]
    assert c.id in hits
    assert c.phone_digits == search.digits(c.phone)


def test_erasure_clears_the_search_copies(db, users):
    from retento.customers import privacy

    c = service.create_customer(
        db, CustomerCreate(name="Erase Me", phone="+1 555 0100 999"), actor=users["manager"]
    )
    privacy.erase_customer(db, c.id, actor=users["admin"])
    db.flush()
    db.expire_all()
    assert db.get(Customer, c.id).phone_digits is None
    assert search.search(db, "5550100999", include_archived=True) == []


def test_web_list_searches_best_match_first(client, users, db):
    from tests.web.conftest import Browser

    make_customer(db, name="Ava Clarkson")
    make_customer(db, name="Clark")
    make_customer(db, name="Zed Unrelated", phone="+44 7000 000584")
    db.flush()
    web = Browser(client)
    web.login("agent")
    page = web.get("/customers", params={"q": "clark"})
    assert page.status_code == 200
    assert page.text.index(">Clark<") < page.text.index("Ava Clarkson")
    assert "Zed Unrelated" not in page.text
    page = web.get("/customers", params={"q": "700-000 0584"})
    assert "Zed Unrelated" in page.text and "Clarkson" not in page.text
    count = web.get("/customers/count", params={"q": "clark"})
    assert count.status_code == 200 and "2" in count.text
