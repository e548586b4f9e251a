"""Archive, erasure and purge carry the customer's version like every other edit and delete
(core.versioning): a stale one (If-Match, the body's ``version``, the page's hidden input) is a
409 ``version_conflict`` and nothing happens — the customer stays active, unerased, present,
with no audit entry — while the current version (or none, as the CLI sends) acts. The service,
the API, the web pages (the stale-delete page, English and Chinese) and, on PostgreSQL, two
requests released together with the same version: exactly one acts."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from retento.audit.models import AuditEntry
from retento.core.versioning import VersionConflict
from retento.customers import privacy, service
from retento.customers.models import Customer
from retento.customers.schemas import CustomerUpdate
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.race import bearer_headers, statuses
from tests.web.conflict_forms import form_of, rows_of
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _entries(session, cid: int, action: str) -> int:
    return session.scalar(
        select(func.count()).where(
            AuditEntry.entity == "customer",
            AuditEntry.entity_id == str(cid),
            AuditEntry.action == action,
        )
    )


def _fresh(db, cid: int) -> Customer | None:
    db.expire_all()
    return db.get(Customer, cid)


# --- the services ---------------------------------------------------------------------------


def _edited(db, users, **over) -> Customer:
    """A customer at version 2: someone saved it after a page read version 1."""
    c = make_customer(db, name="Lin Wei", email="lin@example.com", **over)
    service.update_customer(db, c.id, CustomerUpdate(phone="555 0101"), actor=users["admin"])
    assert c.version == 2
    return c


def test_a_stale_archive_archives_nothing_and_the_current_version_archives(db, users):
    c = _edited(db, users)
    with pytest.raises(VersionConflict) as exc:
        service.archive_customer(db, c.id, actor=users["manager"], version=1)
    problem = exc.value.problem()
    assert (problem["entity"], problem["id"]) == ("Customer", c.id)
    assert (problem["expected_version"], problem["current_version"]) == (1, 2)
    assert _fresh(db, c.id).archived_at is None
    assert _entries(db, c.id, "archive") == 0

    service.archive_customer(db, c.id, actor=users["manager"], version=2)
    assert _fresh(db, c.id).archived_at is not None
    assert (_fresh(db, c.id).version, _entries(db, c.id, "archive")) == (3, 1)
    # Archived since the client read version 2: its retry is refused, not silently repeated.
    with pytest.raises(VersionConflict):
        service.archive_customer(db, c.id, actor=users["admin"], version=2)
    assert _entries(db, c.id, "archive") == 1


def test_a_stale_restore_restores_nothing(db, users):
    c = _edited(db, users)
    service.archive_customer(db, c.id, actor=users["manager"])
    with pytest.raises(VersionConflict):
        service.restore_customer(db, c.id, actor=users["manager"], version=2)
    assert _fresh(db, c.id).archived_at is not None and _entries(db, c.id, "restore") == 0
    service.restore_customer(db, c.id, actor=users["manager"], version=3)
    assert _fresh(db, c.id).archived_at is None and _entries(db, c.id, "restore") == 1


def test_a_stale_erasure_erases_nothing_and_the_current_version_erases(db, users):
    c = _edited(db, users)
    with pytest.raises(VersionConflict):
        privacy.erase_customer(db, c.id, actor=users["admin"], version=1)
    stored = _fresh(db, c.id)
    assert (stored.erased_at, stored.archived_at) == (None, None)
    assert (stored.name, stored.email, stored.phone) == ("Lin Wei", "lin@example.com", "555 0101")
    assert _entries(db, c.id, "erase") == 0

    report = privacy.erase_customer(db, c.id, actor=users["admin"], version=2)
    stored = _fresh(db, c.id)
    assert report.customer_id == c.id and stored.erased_at is not None
    assert stored.email is None and stored.archived_at is not None
    assert _entries(db, c.id, "erase") == 1


def test_a_stale_purge_deletes_nothing_and_the_current_version_deletes(db, users):
    c = _edited(db, users)
    cid = c.id
    with pytest.raises(VersionConflict):
        service.purge_customer(db, cid, actor=users["admin"], version=1)
    assert _fresh(db, cid) is not None and _entries(db, cid, "delete") == 0
    service.purge_customer(db, cid, actor=users["admin"], version=2)
    assert _fresh(db, cid) is None and _entries(db, cid, "delete") == 1


def test_without_a_version_the_actions_work_on_the_current_state_as_the_cli_does(db, users):
    """The CLI (an admin tool, like every CLI delete) sends no version: it acts on what is
    stored now, whatever version that is."""
    a, b, d = _edited(db, users), _edited(db, users), _edited(db, users)
    bid = b.id
    service.archive_customer(db, a.id, actor=users["admin"])
    service.restore_customer(db, a.id, actor=users["admin"])
    privacy.erase_customer(db, d.id, actor=users["admin"])
    service.purge_customer(db, bid, actor=users["admin"])
    assert _fresh(db, a.id).archived_at is None and _entries(db, a.id, "restore") == 1
    assert _fresh(db, d.id).erased_at is not None
    assert _fresh(db, bid) is None


# --- the API --------------------------------------------------------------------------------


def _api_customer(client, db, tokens) -> tuple[int, str, str]:
    """(id, the ETag a client read, the ETag after a colleague's PATCH)."""
    c = make_customer(db, name="Zhou Min", email="zm@example.com")
    db.commit()
    url = f"/api/v1/customers/{c.id}"
    seen = client.get(url, headers=tokens["manager"]).headers["ETag"]
    changed = client.patch(url, json={"note": "called back"}, headers=tokens["admin"])
    assert changed.status_code == 200, changed.text
    return c.id, seen, changed.headers["ETag"]


def _assert_version_conflict(r, cid: int) -> None:
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "version_conflict" and problem["field"] == "version"
    assert (problem["entity"], problem["id"]) == ("Customer", cid)
    assert (problem["expected_version"], problem["current_version"]) == (1, 2)


def test_api_archive_honours_if_match(client, db, users, tokens):
    cid, seen, now = _api_customer(client, db, tokens)
    h = tokens["manager"]
    for stale in (
        client.post(f"/api/v1/customers/{cid}/archive", headers={**h, "If-Match": seen}),
        client.delete(f"/api/v1/customers/{cid}", headers={**h, "If-Match": seen}),
    ):
        _assert_version_conflict(stale, cid)
    assert _fresh(db, cid).archived_at is None and _entries(db, cid, "archive") == 0

    bad = client.post(f"/api/v1/customers/{cid}/archive", headers={**h, "If-Match": "today"})
    assert bad.status_code == 422 and bad.json()["field"] == "If-Match"
    assert _fresh(db, cid).archived_at is None

    ok = client.post(f"/api/v1/customers/{cid}/archive", headers={**h, "If-Match": now})
    assert ok.status_code == 200, ok.text
    assert ok.json()["archived_at"] is not None and ok.headers["ETag"] == '"3"'
    assert _entries(db, cid, "archive") == 1

    # Restore: the ETag of the archive's answer is current; the one before it is stale.
    stale = client.post(f"/api/v1/customers/{cid}/restore", headers={**h, "If-Match": now})
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict"
    assert _fresh(db, cid).archived_at is not None and _entries(db, cid, "restore") == 0
    back = client.post(f"/api/v1/customers/{cid}/restore", headers={**h, "If-Match": '"3"'})
    assert back.status_code == 200 and back.headers["ETag"] == '"4"'
    assert _fresh(db, cid).archived_at is None


def test_api_delete_archives_with_the_current_if_match_and_without_one(client, db, tokens):
    cid, _, now = _api_customer(client, db, tokens)
    h = tokens["manager"]
    assert (
        client.delete(f"/api/v1/customers/{cid}", headers={**h, "If-Match": now}).status_code == 204
    )
    assert _fresh(db, cid).archived_at is not None
    # No If-Match: idempotent as before (a retried DELETE does nothing more).
    assert client.delete(f"/api/v1/customers/{cid}", headers=h).status_code == 204
    assert _entries(db, cid, "archive") == 1


def test_api_archive_of_a_customer_archived_since_it_was_read_is_409(client, db, tokens):
    c = make_customer(db)
    db.commit()
    url = f"/api/v1/customers/{c.id}"
    seen = client.get(url, headers=tokens["manager"]).headers["ETag"]
    assert client.post(f"{url}/archive", headers=tokens["admin"]).status_code == 200
    assert client.post(f"{url}/restore", headers=tokens["admin"]).status_code == 200
    r = client.post(f"{url}/archive", headers={**tokens["manager"], "If-Match": seen})
    assert r.status_code == 409 and r.json()["code"] == "version_conflict"
    stored = _fresh(db, c.id)
    assert stored.archived_at is None and _entries(db, c.id, "archive") == 1


def test_api_erase_honours_if_match_and_the_body_version(client, db, users, tokens):
    cid, seen, now = _api_customer(client, db, tokens)
    h = tokens["admin"]
    url = f"/api/v1/customers/{cid}/erase"
    _assert_version_conflict(client.post(url, headers={**h, "If-Match": seen}), cid)
    _assert_version_conflict(
        client.post(url, json={"version": 1, "reason": "DSR-1"}, headers=h), cid
    )
    stored = _fresh(db, cid)
    assert stored.erased_at is None and stored.archived_at is None
    assert (stored.name, stored.email) == ("Zhou Min", "zm@example.com")
    assert _entries(db, cid, "erase") == 0

    ok = client.post(url, json={"reason": "DSR-1"}, headers={**h, "If-Match": now})
    assert ok.status_code == 200, ok.text
    assert _fresh(db, cid).erased_at is not None and _entries(db, cid, "erase") == 1


def test_api_purge_honours_if_match(client, db, users, tokens):
    cid, seen, now = _api_customer(client, db, tokens)
    h = tokens["admin"]
    url = f"/api/v1/customers/{cid}?purge=true"
    _assert_version_conflict(client.delete(url, headers={**h, "If-Match": seen}), cid)
    assert _fresh(db, cid) is not None and _entries(db, cid, "delete") == 0
    assert client.delete(url, headers={**h, "If-Match": now}).status_code == 204
    assert _fresh(db, cid) is None and _entries(db, cid, "delete") == 1


# --- the web --------------------------------------------------------------------------------


def _web_customer(db) -> int:
    c = make_customer(db, name="Gao Yan", phone="111 2222")
    db.commit()
    return c.id


def test_a_stale_archive_button_archives_nothing_and_says_what_changed(web, db, tokens):
    cid = _web_customer(db)
    web.login("manager")
    archive = f"/customers/{cid}/archive"
    stale = form_of(web.get(f"/customers/{cid}").text, archive)
    assert stale["version"] == "1"
    r = web.client.patch(
        f"/api/v1/customers/{cid}", json={"phone": "333 4444"}, headers=tokens["admin"]
    )
    assert r.status_code == 200

    page = web.post(archive, stale)
    assert page.status_code == 409, page.text
    assert "Nothing was archived" in page.text and "Archive it as it is now" in page.text
    assert "version 1; it is now at version 2" in page.text
    assert rows_of(page.text)["phone"] == ("111 2222", "333 4444")
    assert "admin" in page.text  # who changed it, from the audit log
    stored = _fresh(db, cid)
    assert stored.archived_at is None and stored.phone == "333 4444"
    assert _entries(db, cid, "archive") == 0

    # The 360 page as it is now archives.
    fresh = form_of(web.get(f"/customers/{cid}").text, archive)
    assert fresh["version"] == "2"
    assert web.post(archive, fresh).status_code == 303
    assert _fresh(db, cid).archived_at is not None and _entries(db, cid, "archive") == 1


def test_a_stale_archive_button_names_an_archive_made_since(web, db, users, tokens):
    cid = _web_customer(db)
    web.login("manager")
    archive = f"/customers/{cid}/archive"
    stale = form_of(web.get(f"/customers/{cid}").text, archive)
    assert (
        web.client.post(f"/api/v1/customers/{cid}/archive", headers=tokens["admin"]).status_code
        == 200
    )

    page = web.post(archive, stale)
    assert page.status_code == 409, page.text
    assert rows_of(page.text)["archived"] == ("No", "Yes")
    row = page.text.split('<tr data-field="archived">', 1)[1].split("</tr>", 1)[0]
    assert "admin" in row
    assert _fresh(db, cid).archived_by_id == users["admin"].id
    assert _entries(db, cid, "archive") == 1  # the admin's only

    # "Delete it as it is now" posts the current version: archiving an archived customer is
    # the no-op it always was.
    again = form_of(page.text, archive)
    assert again["version"] == "2" and again["base.archived"] == "1"
    assert web.post(archive, again).status_code == 303
    assert _entries(db, cid, "archive") == 1


def test_a_stale_erase_page_erases_nothing_and_erase_anyway_erases(web, db, tokens):
    cid = _web_customer(db)
    web.login("manager")
    erase = f"/customers/{cid}/erase"
    stale = form_of(web.get(erase).text, erase)
    assert (stale["version"], stale["base.archived"], stale["base.erased"]) == ("1", "", "")
    r = web.client.patch(
        f"/api/v1/customers/{cid}", json={"note": "asked for a refund"}, headers=tokens["admin"]
    )
    assert r.status_code == 200

    page = web.post(erase, {**stale, "confirm": str(cid), "reason": "DSR-9"})
    assert page.status_code == 409, page.text
    assert "Nothing was erased" in page.text
    assert rows_of(page.text)["note"] == ("—", "asked for a refund")
    stored = _fresh(db, cid)
    assert (stored.erased_at, stored.archived_at, stored.name) == (None, None, "Gao Yan")
    assert _entries(db, cid, "erase") == 0

    again = form_of(page.text, erase)
    assert (again["version"], again["confirm"], again["reason"]) == ("2", str(cid), "DSR-9")
    assert web.post(erase, again).status_code == 303
    stored = _fresh(db, cid)
    assert stored.erased_at is not None and stored.phone is None
    assert _entries(db, cid, "erase") == 1


def test_a_stale_restore_button_restores_nothing_and_restore_anyway_restores(web, db, tokens):
    cid = _web_customer(db)
    admin = tokens["admin"]
    assert web.client.post(f"/api/v1/customers/{cid}/archive", headers=admin).status_code == 200
    web.login("manager")
    restore = f"/customers/{cid}/restore"
    stale = form_of(web.get(f"/customers/{cid}").text, restore)
    assert (stale["version"], stale["base.archived"]) == ("2", "1")
    # A colleague restores it, edits it and archives it again: the button is out of date.
    assert web.client.post(f"/api/v1/customers/{cid}/restore", headers=admin).status_code == 200
    web.client.patch(f"/api/v1/customers/{cid}", json={"city": "Suzhou"}, headers=admin)
    assert web.client.post(f"/api/v1/customers/{cid}/archive", headers=admin).status_code == 200

    page = web.post(restore, stale)
    assert page.status_code == 409, page.text
    assert "Nothing was restored" in page.text and "Restore it as it is now" in page.text
    assert rows_of(page.text)["city"] == ("—", "Suzhou")
    assert _fresh(db, cid).archived_at is not None and _entries(db, cid, "restore") == 1

    again = form_of(page.text, restore)
    assert again["version"] == "5"
    assert web.post(restore, again).status_code == 303
    assert _fresh(db, cid).archived_at is None and _entries(db, cid, "restore") == 2

    web.post("/locale", data={"lang": "zh_CN", "next": "/customers"})
    assert web.client.post(f"/api/v1/customers/{cid}/archive", headers=admin).status_code == 200
    page = web.post(restore, again)
    assert page.status_code == 409 and "没有恢复任何内容" in page.text


def test_a_mistyped_confirmation_keeps_the_version_the_erase_page_was_loaded_with(web, db, tokens):
    cid = _web_customer(db)
    web.login("manager")
    erase = f"/customers/{cid}/erase"
    loaded = form_of(web.get(erase).text, erase)
    web.client.patch(f"/api/v1/customers/{cid}", json={"city": "Suzhou"}, headers=tokens["admin"])
    wrong = web.post(erase, {**loaded, "confirm": "12"})
    assert wrong.status_code == 422
    kept = form_of(wrong.text, erase)
    assert kept["version"] == "1"  # not the version now: the change is still caught
    page = web.post(erase, {**kept, "confirm": str(cid)})
    assert page.status_code == 409
    assert _fresh(db, cid).erased_at is None


def test_a_bad_version_is_422_and_a_form_without_one_acts_as_before(web, db):
    cid = _web_customer(db)
    web.login("manager")
    r = web.post(f"/customers/{cid}/archive", {"version": "two"})
    assert r.status_code == 422
    assert _fresh(db, cid).archived_at is None
    assert web.post(f"/customers/{cid}/archive", {}).status_code == 303
    assert _fresh(db, cid).archived_at is not None


def test_the_stale_archive_and_erase_pages_speak_chinese(web, db, tokens):
    cid = _web_customer(db)
    web.login("manager")
    web.post("/locale", data={"lang": "zh_CN", "next": "/customers"})
    archive, erase = f"/customers/{cid}/archive", f"/customers/{cid}/erase"
    stale_archive = form_of(web.get(f"/customers/{cid}").text, archive)
    stale_erase = form_of(web.get(erase).text, erase)
    assert (
        web.client.post(f"/api/v1/customers/{cid}/archive", headers=tokens["admin"]).status_code
        == 200
    )

    said = {archive: "没有归档任何内容", erase: "没有删除任何个人信息"}
    for url, form in ((archive, stale_archive), (erase, {**stale_erase, "confirm": str(cid)})):
        page = web.post(url, form)
        assert page.status_code == 409, (url, page.text)
        assert said[url] in page.text and "Nothing was" not in page.text
        assert rows_of(page.text)["archived"] == ("否", "是"), url
    stored = _fresh(db, cid)
    assert stored.erased_at is None and _entries(db, cid, "archive") == 1


# --- PostgreSQL: two requests with the same version at once ---------------------------------


def _race_setup(live_pg, n: int = 2) -> tuple[int, list[dict[str, str]]]:
    with live_pg.session() as s:
        admin = make_user(s, role="admin")
        c = make_customer(s, name="Race Lifecycle", email="rl@example.com")
        headers = bearer_headers(s, admin, n)
        s.commit()
        return c.id, headers


def _race(live_pg, cid: int, headers, paths: list[str], etag: str = '"1"'):
    def call(i: int) -> int:
        with live_pg.client() as client:
            url = f"/api/v1/customers/{cid}/{paths[i]}"
            return client.post(url, headers={**headers[i], "If-Match": etag}).status_code

    return statuses(run_parallel(len(paths), call))


def test_two_archives_with_one_version_archive_once(live_pg):
    cid, headers = _race_setup(live_pg)
    codes = _race(live_pg, cid, headers, ["archive", "archive"])
    assert codes == {200: 1, 409: 1}, codes
    with live_pg.session() as s:
        c = s.get(Customer, cid)
        assert c.archived_at is not None and c.version == 2
        assert _entries(s, cid, "archive") == 1


def test_two_erasures_with_one_version_erase_once(live_pg):
    cid, headers = _race_setup(live_pg)
    codes = _race(live_pg, cid, headers, ["erase", "erase"])
    assert codes == {200: 1, 409: 1}, codes
    with live_pg.session() as s:
        c = s.get(Customer, cid)
        assert c.erased_at is not None and c.email is None and c.archived_at is not None
        assert _entries(s, cid, "erase") == 1


def test_an_archive_and_an_erasure_with_one_version_do_one_of_them(live_pg):
    cid, headers = _race_setup(live_pg)
    codes = _race(live_pg, cid, headers, ["archive", "erase"])
    assert codes == {200: 1, 409: 1}, codes
    with live_pg.session() as s:
        c = s.get(Customer, cid)
        archived, erased = _entries(s, cid, "archive"), _entries(s, cid, "erase")
        assert archived + erased == 1, (archived, erased)
        assert c.archived_at is not None
        # Whichever won, the other did nothing: an archive that lost leaves no archive entry,
        # an erasure that lost leaves the personal data.
        assert (c.erased_at is not None) == (erased == 1)
        assert (c.email is None) == (erased == 1)
