"""The API's problems say what went wrong in words (docs/api.md "Errors"): a body that is not
JSON, missing or not an object; a stale version naming the record by its label, not its class;
an unknown warning rule code; and ``Accept-Language`` asking for Chinese texts while the codes
stay codes (English, byte for byte as before, without it).

Runs on SQLite and PostgreSQL (the ``client`` fixture)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Mapper

from retento.core.handlers import accept_language_locale
from retento.core.versioning import VersionConflict, check_version, entity_label, table_label
from retento.web.i18n import message_text, translate
from retento.web.labels import LABELS
from tests.factories import make_customer
from tests.retention.helpers import make_alert

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


def problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()


def post_body(client, tokens, content: bytes, **headers: str):
    return client.post(
        "/api/v1/customers",
        content=content,
        headers={**tokens["admin"], "Content-Type": "application/json", **headers},
    )


# --- 1. a body that is not valid JSON ----------------------------------------------------------


def test_invalid_json_names_line_and_column_not_a_byte_offset(client, tokens):
    body = problem(post_body(client, tokens, b'{"name": "A",\n  "phone": }'), 422)
    assert body["code"] == "invalid_input"
    assert "field" not in body  # not "24": the offset is no field
    assert body["detail"] == (
        "The request body is not valid JSON: expecting value at line 2, column 12."
    )
    assert body["errors"] == [{"field": None, "message": body["detail"]}]


def test_invalid_json_in_chinese(client, tokens):
    body = problem(post_body(client, tokens, b'{"name": "A"} x', **ZH), 422)
    assert (
        body["detail"] == "请求正文不是有效的 JSON（第 1 行第 15 列）：JSON 值之后还有多余的数据。"
    )
    assert body["errors"][0]["message"] == body["detail"]
    assert (body["code"], body.get("field")) == ("invalid_input", None)


def test_a_body_not_in_utf8_says_so_and_where(client, tokens):
    """FastAPI answered a Latin-1 or GBK body with a plain "There was an error parsing the
    body" (code ``http_error``); it now says what is wrong and where, in either language,
    and nothing is written."""
    before = client.get("/api/v1/customers", headers=tokens["admin"]).json()["total"]
    body = problem(post_body(client, tokens, '{"name": "Zoë"}'.encode("latin-1")), 400)
    assert body["code"] == "invalid_input"
    assert body["detail"] == (
        "The request body is not UTF-8 text (byte 0xEB at line 1, byte 13): send JSON "
        "encoded as UTF-8."
    )
    gbk = '{\n  "name": "张三"}'.encode("gbk")
    body = problem(post_body(client, tokens, gbk, **ZH), 400)
    assert body["detail"] == (
        "请求正文不是 UTF-8 文本（第 2 行第 12 个字节 0xD5）：请以 UTF-8 编码发送 JSON。"
    )
    assert client.get("/api/v1/customers", headers=tokens["admin"]).json()["total"] == before


# --- 2. a missing body, or one that is not an object --------------------------------------------


def test_a_missing_body_says_so(client, tokens):
    for r in (
        post_body(client, tokens, b""),
        client.post("/api/v1/customers", headers=tokens["admin"]),
    ):
        body = problem(r, 422)
        assert body["detail"] == (
            "The request body is missing or empty: send a JSON object "
            "(Content-Type: application/json)."
        )
        assert "field" not in body and body["errors"][0]["field"] is None
    body = problem(post_body(client, tokens, b"", **ZH), 422)
    assert body["detail"].startswith("缺少请求正文或正文为空")


@pytest.mark.parametrize("content", [b"[]", b"null", b'"Li"', b"3"])
def test_a_body_that_is_not_an_object_says_so(client, tokens, content):
    body = problem(post_body(client, tokens, content), 422)
    assert body["detail"] == (
        "The request body must be a JSON object (Content-Type: application/json)."
    )
    zh = problem(post_body(client, tokens, content, **ZH), 422)
    assert zh["detail"] == "请求正文必须是一个 JSON 对象（Content-Type: application/json）。"


def test_field_errors_keep_their_field(client, tokens):
    r = client.post("/api/v1/customers", json={"name": "A", "kind": "x"}, headers=tokens["admin"])
    assert problem(r, 422)["field"] == "kind"


# --- 3. a stale version names the record by its label -------------------------------------------


def test_version_conflict_names_the_record_by_its_label(client, db, tokens, users):
    customer = make_customer(db)
    alert = make_alert(db, customer.id)
    db.commit()
    url = f"/api/v1/retention/alerts/{alert.id}/status"
    headers = {**tokens["admin"], "If-Match": '"7"'}
    body = problem(client.post(url, json={"status": "closed"}, headers=headers), 409)
    assert body["detail"] == (
        f"Retention alert {alert.id} was changed by someone else: you edited version 7, it is "
        "now at version 1. Reload it and apply your changes again."
    )
    assert "RetentionAlert" not in body["detail"]
    # The codes for programs are unchanged.
    assert (body["code"], body["field"], body["entity"], body["id"]) == (
        "version_conflict",
        "version",
        "RetentionAlert",
        alert.id,
    )
    zh = problem(client.post(url, json={"status": "closed"}, headers={**headers, **ZH}), 409)
    assert zh["detail"] == (
        f"流失预警 {alert.id} 已被他人修改：您编辑的是第 7 版，现在已是第 1 版。"
        "请重新加载后再次应用您的修改。"
    )
    assert (zh["code"], zh["field"], zh["entity"]) == (
        "version_conflict",
        "version",
        "RetentionAlert",
    )


def test_a_customer_conflict_reads_as_documented(client, db, tokens):
    c = make_customer(db)
    db.commit()
    r = client.patch(
        f"/api/v1/customers/{c.id}",
        json={"phone": "+86 571 0000", "version": 3},
        headers=tokens["admin"],
    )
    assert problem(r, 409)["detail"] == (
        f"Customer {c.id} was changed by someone else: you edited version 3, it is now at "
        "version 1. Reload it and apply your changes again."
    )


def _versioned_mappers() -> list[Mapper]:
    from retento.core.db import Base

    return [m for m in Base.registry.mappers if m.version_id_col is not None]


def test_every_versioned_record_has_a_label_in_both_languages(app):
    """Every model a stale edit can name (a ``version_id_col``) has the audit log's label of its
    record type, translated: never its class or table name."""
    mappers = _versioned_mappers()
    assert len(mappers) >= 20
    labels = set(LABELS["entity"].values())
    missing = []
    for mapper in mappers:
        label = table_label(mapper.local_table.name)
        if label not in labels or translate("zh_CN", label) == label:
            missing.append((mapper.class_.__name__, label))
    assert missing == []


def test_check_version_and_stale_writes_use_the_label(app):
    from retento.retention.models import RetentionAlert

    alert = RetentionAlert(id=5, version=2)
    with pytest.raises(VersionConflict) as caught:
        check_version(alert, 1)
    assert entity_label(alert) == "Retention alert"
    assert str(caught.value.message).startswith("Retention alert 5 was changed")
    assert message_text("zh_CN", caught.value.message).startswith("流失预警 5 已被他人修改")
    stale = VersionConflict("retention_alerts", None, label=table_label("retention_alerts"))
    assert stale.message.startswith("A record (Retention alert) was changed")
    assert message_text("zh_CN", stale.message).startswith("在您保存时，一条记录（流失预警）")


# --- 4. an unknown warning rule code ------------------------------------------------------------


def test_unknown_rule_code_names_the_kind_of_code_and_the_field(client, tokens):
    r = client.patch(
        "/api/v1/retention/rules/bogus", json={"enabled": True}, headers=tokens["admin"]
    )
    body = problem(r, 404)
    assert (body["code"], body["field"]) == ("not_found", "code")
    assert body["detail"] == (
        "No warning rule has the code 'bogus' (the codes are: churn_risk, rhythm, complaint, "
        "survey, tier_downgrade, points_expiring)."
    )
    zh = problem(
        client.patch(
            "/api/v1/retention/rules/bogus",
            json={"enabled": True},
            headers={**tokens["admin"], **ZH},
        ),
        404,
    )
    assert zh["detail"].startswith("没有代码为“bogus”的预警规则")
    assert (zh["code"], zh["field"]) == ("not_found", "code")
    # A known code still works.
    ok = client.patch(
        "/api/v1/retention/rules/rhythm", json={"enabled": True}, headers=tokens["admin"]
    )
    assert ok.status_code == 200, ok.text


def test_the_rule_path_still_lists_its_codes_in_openapi(client):
    spec = client.get("/openapi.json").json()
    params = spec["paths"]["/api/v1/retention/rules/{code}"]["patch"]["parameters"]
    code = next(p for p in params if p["name"] == "code")
    assert "churn_risk" in code["schema"]["enum"]


# --- 5. Accept-Language ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header,locale",
    [
        (None, "en"),
        ("", "en"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("zh", "zh_CN"),
        ("zh-CN", "zh_CN"),
        ("zh-Hans-CN", "zh_CN"),
        ("zh_TW", "zh_CN"),
        ("ZH-cn", "zh_CN"),
        ("fr-FR,zh;q=0.5", "zh_CN"),
        ("en;q=0.5,zh;q=0.9", "zh_CN"),
        ("en,zh", "en"),
        ("zh;q=0,en", "en"),
        ("zh;q=0", "en"),
        ("*", "en"),
        ("fr, de", "en"),
        ("zh;q=abc", "en"),
        ("zh;q=nan", "en"),
        ("zh;q=inf", "en"),
        (";;;,,,=q", "en"),
        ("zhx", "en"),
        ("\x00\uffff", "en"),
    ],
)
def test_accept_language(header, locale):
    assert accept_language_locale(header) == locale


def test_without_chinese_the_problem_is_unchanged_byte_for_byte(client, tokens):
    r0 = client.get("/api/v1/customers/999999", headers=tokens["admin"])
    for extra in (
        {"Accept-Language": "en-GB"},
        {"Accept-Language": "fr"},
        {"Accept-Language": "x;;"},
    ):
        r = client.get("/api/v1/customers/999999", headers={**tokens["admin"], **extra})
        assert r.content == r0.content
        assert "content-language" not in r.headers
    assert r0.json()["detail"] == "Customer 999999 does not exist."
    assert r0.headers["vary"] == "Accept-Language"


def test_chinese_detail_and_messages_codes_stay_codes(client, tokens):
    r = client.post(
        "/api/v1/customers",
        json={"name": "A", "owner_id": 2**63},
        headers={**tokens["admin"], "Accept-Language": "zh-Hans"},
    )
    en = client.post(
        "/api/v1/customers", json={"name": "A", "owner_id": 2**63}, headers=tokens["admin"]
    ).json()
    zh = problem(r, 422)
    assert r.headers["content-language"] == "zh-CN"
    assert (zh["code"], zh["field"], zh["type"], zh["title"]) == (
        en["code"],
        en["field"],
        en["type"],
        en["title"],
    )
    assert [e["field"] for e in zh["errors"]] == [e["field"] for e in en["errors"]]
    assert zh["detail"].startswith("owner_id：")  # the field's name stays its code

    nf = problem(client.get("/api/v1/customers/999999", headers={**tokens["admin"], **ZH}), 404)
    assert nf["detail"] == "客户 999999 不存在。"
    assert (nf["code"], nf["type"]) == ("not_found", "https://retento.dev/problems/not_found")


def test_chinese_keeps_extension_codes(client, tokens):
    r = client.post(
        "/api/v1/users",
        json={"username": "x1", "password": "long-enough-pw-1", "role": "agent"},
        headers={**tokens["agent"], **ZH},
    )
    body = problem(r, 403)
    en = problem(
        client.post(
            "/api/v1/users",
            json={"username": "x1", "password": "long-enough-pw-1", "role": "agent"},
            headers=tokens["agent"],
        ),
        403,
    )
    assert body["detail"] != en["detail"]
    for key in ("code", "type", "permission", "role"):
        assert body.get(key) == en.get(key)


def test_unknown_path_and_method_in_chinese(client, tokens):
    body = problem(client.get("/api/v1/nothing-here", headers={**tokens["admin"], **ZH}), 404)
    assert (body["detail"], body["code"]) == ("未找到", "not_found")
    assert (
        problem(client.get("/api/v1/nothing-here", headers=tokens["admin"]), 404)["detail"]
        == "Not Found"
    )
    body = problem(client.put("/api/v1/customers", headers={**tokens["admin"], **ZH}), 405)
    assert (body["detail"], body["code"]) == ("不允许此请求方法", "method_not_allowed")


@pytest.mark.parametrize(
    "header", ["zh;q=0.5, en;q=", "\t", "a" * 5000, ",".join(["zh"] * 500), "zh-" + "x" * 300]
)
def test_odd_headers_never_break_an_error(client, tokens, header):
    r = client.get(
        "/api/v1/customers/999999", headers={**tokens["admin"], "Accept-Language": header}
    )
    assert r.status_code == 404 and r.json()["code"] == "not_found"
