from __future__ import annotations

import csv
import io
import json

from sqlalchemy import func, select

from retento.orders.models import Order


def _upload(client, headers, entity, path, **form):
    with open(path, "rb") as fh:
        return client.post(
            f"/api/v1/imports/{entity}",
            headers=headers,
            files={"file": (path.name, fh, "text/csv")},
            data=form,
        )


def test_import_then_export_over_the_api(client, tokens, data_dir, db):
    admin = tokens["admin"]
    r = _upload(client, admin, "customers", data_dir / "customers.csv")
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 3
    assert _upload(client, admin, "products", data_dir / "products.csv").json()["created"] == 3
    r = _upload(client, admin, "orders", data_dir / "orders.csv")
    body = r.json()
    assert (body["created"], body["updated"], body["rejected"], body["errors"]) == (2, 0, 0, [])
    r = client.get("/api/v1/exports/orders.csv?status=paid", headers=tokens["analyst"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [(x["order_external_id"], x["quantity"], x["order_revenue"]) for x in rows] == [
        ("IO2", "10", "58.00")
    ]


def test_all_or_nothing_returns_problem_details(client, tokens, data_dir, db):
    admin = tokens["admin"]
    _upload(client, admin, "customers", data_dir / "customers.csv")
    _upload(client, admin, "products", data_dir / "products.csv")
    r = _upload(client, admin, "orders", data_dir / "orders_bad_dates.csv")
    assert r.status_code == 422
    problem = r.json()
    assert problem["code"] == "invalid_input"
    assert [(e["row"], e["field"]) for e in problem["errors"]] == [
        (3, "ordered_at"),
        (4, "ordered_at"),
    ]
    assert db.scalar(select(func.count()).select_from(Order)) == 0


def test_skip_invalid_and_mapping_json(client, tokens, data_dir):
    admin = tokens["admin"]
    _upload(client, admin, "customers", data_dir / "customers.csv")
    _upload(client, admin, "products", data_dir / "products.csv")
    r = _upload(
        client, admin, "orders", data_dir / "orders_unknown_customer.csv", skip_invalid="true"
    )
    body = r.json()
    assert (body["created"], body["rejected"]) == (1, 2)
    assert body["errors"][0] == {
        "row": 3,
        "field": "customer_external_id",
        "message": "unknown customer 'NOBODY' (import customers first)",
    }
    mapping = json.dumps({"columns": {"Nr": "external_id", "Bezeichnung": "name"}})
    r = client.post(
        "/api/v1/imports/customers",
        headers=admin,
        files={"file": ("k.csv", b"Nr,Bezeichnung\nK9,Kunde Neun\n", "text/csv")},
        data={"mapping": mapping},
    )
    assert r.json()["created"] == 1


def test_permissions(client, tokens, data_dir):
    r = _upload(client, tokens["agent"], "customers", data_dir / "customers.csv")
    assert r.status_code == 403
    assert client.get("/api/v1/exports/customers.csv", headers=tokens["agent"]).status_code == 403
    assert client.get("/api/v1/exports/nothing.csv", headers=tokens["admin"]).status_code == 422
