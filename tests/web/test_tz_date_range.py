"""A dashboard's custom period counts the installation's days (``RETENTO_TIMEZONE``), the days
every page shows: a complaint received 2026-12-06 17:30 UTC is 12-07 01:30 in Shanghai and
belongs to 12-07. The SLA pages say which time zone a business calendar counts in."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest
from starlette.requests import Request

from retento.core.errors import InvalidInput
from retento.web import dashfilters
from tests.factories import make_customer
from tests.factories.complaints import make_complaint
from tests.web.conftest import Browser

LATE_EVENING_UTC = datetime(2026, 12, 6, 17, 30, tzinfo=UTC)  # 12-07 01:30 in Shanghai


def _in_zone(app, zone: str) -> None:
    app.state.settings = app.state.settings.model_copy(update={"timezone": zone})


def _request(app, query: str) -> Request:
    return Request(
        {"type": "http", "method": "GET", "path": "/", "query_string": query.encode(), "app": app,
         "headers": []}
    )  # fmt: skip


def _kpi(html: str) -> str:
    return re.search(r'id="kpi-complaints">([^<]*)<', html).group(1).strip()


def test_custom_days_start_at_midnight_in_the_installation_s_zone(app):
    _in_zone(app, "Asia/Shanghai")
    f = dashfilters.parse(_request(app, "period=custom&from=2026-12-07&to=2026-12-07"), {})
    assert f.start == datetime(2026, 12, 6, 16, tzinfo=UTC)
    assert f.end == datetime(2026, 12, 7, 16, tzinfo=UTC)
    assert (f.first_day, f.last_day) == (date(2026, 12, 7), date(2026, 12, 7))
    assert f.days == 1
    _in_zone(app, "America/New_York")
    f = dashfilters.parse(_request(app, "period=custom&from=2026-12-07&to=2026-12-08"), {})
    assert f.start == datetime(2026, 12, 7, 5, tzinfo=UTC)
    assert f.end == datetime(2026, 12, 9, 5, tzinfo=UTC)
    assert (f.first_day, f.last_day) == (date(2026, 12, 7), date(2026, 12, 8))
    _in_zone(app, "UTC")
    f = dashfilters.parse(_request(app, "period=custom&from=2026-12-07&to=2026-12-07"), {})
    assert (f.start, f.end) == (
        datetime(2026, 12, 7, tzinfo=UTC),
        datetime(2026, 12, 8, tzinfo=UTC),
    )


def test_a_day_outside_the_accepted_range_is_a_422_not_a_500(app):
    with pytest.raises(InvalidInput) as caught:
        dashfilters.parse(_request(app, "period=custom&from=2026-12-01&to=9999-12-31"), {})
    assert caught.value.field == "to" and "2200-12-31" in str(caught.value.message)


def test_complaint_dashboard_counts_the_day_the_pages_show(app, client, db, users):
    _in_zone(app, "Asia/Shanghai")
    c = make_complaint(
        db, users["manager"], customer_id=make_customer(db).id, received_at=LATE_EVENING_UTC,
        channel="web_form",
    )  # fmt: skip
    db.commit()
    web = Browser(client)
    web.login("manager")
    assert "Dec 7, 2026, 1:30" in web.get(f"/complaints/{c.id}").text
    url = "/complaints/dashboard?period=custom&from={d}&to={d}&channel=web_form"
    assert _kpi(web.get(url.format(d="2026-12-07")).text) == "1"
    assert _kpi(web.get(url.format(d="2026-12-06")).text) == "0"
    # the CSV's filter row names the installation's days
    export = web.get(
        "/complaints/dashboard/export.csv?period=custom&from=2026-12-07&to=2026-12-07"
    ).text
    rows = list(csv.DictReader(io.StringIO(export.lstrip("\ufeff"))))
    measures = {r["measure"]: r["value"] for r in rows if r["table"] == "filter"}
    assert (measures["received_from"], measures["received_to"]) == ("2026-12-07", "2026-12-07")


def test_sla_pages_name_the_calendar_s_time_zone(app, client, db, users):
    from retento.complaints.models import BusinessCalendarRow

    _in_zone(app, "Asia/Shanghai")
    c = make_complaint(db, users["manager"], customer_id=make_customer(db).id)
    db.commit()
    cal = c.sla_policy.calendar
    assert cal.timezone == "UTC"  # the seeded "Office hours"
    web = Browser(client)
    web.login("admin")
    detail = web.get(f"/complaints/{c.id}").text
    assert "Calendar: Office hours (UTC)" in detail
    assert "Business hours are counted in the calendar's time zone (UTC); this page shows " \
        "times in Asia/Shanghai." in detail  # fmt: skip
    page = web.get(f"/complaints/sla/calendars/{cal.id}").text
    assert "Working hours are read in the calendar's time zone (UTC)." in page
    assert "This installation shows times in Asia/Shanghai." in page
    assert "(this installation: Asia/Shanghai)" in web.get("/complaints/sla").text
    users["admin"].locale = "zh_CN"
    db.commit()
    zh = web.get(f"/complaints/{c.id}").text
    assert "工作时间按日历的时区（UTC）计算；本页时间按 Asia/Shanghai 显示。" in zh
    # an installation in the calendar's own zone gets no warning
    _in_zone(app, "UTC")
    assert 'id="sla-calendar-zone"' not in web.get(f"/complaints/{c.id}").text
    assert db.get(BusinessCalendarRow, cal.id).timezone == "UTC"
