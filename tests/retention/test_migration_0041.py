"""Migration 0041 (``retention_seqs``, the case-number counters): going up from 0040 with cases
numbered already fills each stratum's counter past its highest number, so the next case of a
stratum continues its blocks instead of starting again at 0; down drops the table and keeps the
cases. On both backends."""

from __future__ import annotations

from sqlalchemy import inspect, select

from retento.core.db import make_engine, make_session_factory
from retento.core.migrate import downgrade, upgrade
from retento.retention import playbook_apply, service
from retento.retention.models import RetentionCase, RetentionSeq
from retento.scoring.models import CustomerScore
from tests.factories import make_customer, make_user
from tests.retention.helpers import make_alert, make_run


def test_counters_filled_from_numbered_cases(scratch_db_url):
    url = scratch_db_url
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s:
        manager = make_user(s, role="manager")
        service.get_config(s)
        customers = [make_customer(s) for _ in range(5)]
        make_run(s, {c.id: {"value_class": "vip"} for c in customers})
        classes = ["key", "key", "key", "ordinary", "ordinary"]
        for c, value_class in zip(customers, classes, strict=True):
            alert = make_alert(s, c.id, value_class=value_class)
            playbook_apply.apply_to_alert(s, alert.id, actor=manager)
        s.commit()
        before = {
            (pb, vc): sorted(
                s.scalars(
                    select(RetentionCase.seq).where(
                        RetentionCase.playbook_id == pb, RetentionCase.value_class == vc
                    )
                )
            )
            for pb, vc in s.execute(select(RetentionCase.playbook_id, RetentionCase.value_class))
        }
    assert sorted(len(v) for v in before.values()) == [2, 3]
    assert all(v == list(range(len(v))) for v in before.values())
    engine.dispose()

    downgrade(url, "0040")
    engine = make_engine(url)
    assert "retention_seqs" not in inspect(engine).get_table_names()
    engine.dispose()

    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s:
        counters = {
            (r.playbook_id, r.value_class): r.next_seq for r in s.scalars(select(RetentionSeq))
        }
        assert counters == {key: len(seqs) for key, seqs in before.items()}
        assert s.scalar(select(CustomerScore.id).limit(1)) is not None
        # The next case of the key stratum continues at 3.
        key_stratum = next(k for k, v in before.items() if len(v) == 3)
        assert playbook_apply.reserve_seq(s, *key_stratum) == 3
        s.rollback()
    engine.dispose()
