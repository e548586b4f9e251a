"""The search of migration 0017 (commit 50ff5a2), kept for benchmarks/bench_search.py to time
against the search-table version in the same run. Not used by the application.

Customer search: one query builder for the list page, the API, the CLI and duplicate checks.

What is matched: the name (any part, Chinese given names included: one character is enough),
the email, the phone (any run of digits; spaces and punctuation in the query or the stored
number do not matter), the external id, a contact's name, email or phone, and the customer
number. Ranked: exact (0) > prefix of the value or of a word in the name (1) > substring (2) >
fuzzy (3..4, closest first: only when fewer than ``FUZZY_BELOW`` customers matched otherwise).

PostgreSQL: every branch is an index scan on a pg_trgm GIN index (migration 0017); a Chinese
query runs on ``name_chars`` (" 王 小 明 ") where a single character is a whole word and so has
trigrams. SQLite: candidates come from ``customer_search_grams`` (trigrams written by triggers),
then are checked and ranked on the rows themselves.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sqlalchemy import (
    Float,
    Select,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from retento.core.validation import id_from_text
from retento.customers.models import Contact, Customer, SearchGram

# Alias of the ranked id subquery joined by ``customer_filter``; ``RANK`` orders by relevance.
RANK_ALIAS = "search_rank"
RANK = literal_column(f"{RANK_ALIAS}.rank")
RANK_NAME = literal_column(f"{RANK_ALIAS}.name_key")
FUZZY_BELOW = 10
# word_similarity threshold for a typo'd name (pg_trgm's default is 0.6).
FUZZY_THRESHOLD = 0.45
MAX_QUERY = 200

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_PHONE_LIKE = re.compile(r"^[\d\s\-–—().+/#*,\u3000\uff0d\uff08\uff09\uff0b]+$")
_TOP = "\U0010ffff"


def digits(text: str | None) -> str:
    """The digits of ``text`` (what the ``phone_digits`` columns hold)."""
    return "".join(ch for ch in (text or "") if "0" <= ch <= "9")


@dataclass(frozen=True)
class Query:
    """A search string, normalised once."""

    raw: str
    key: str  # lower-cased, inner whitespace collapsed
    digits: str  # the digits if the query looks like a phone number (3+ digits), else ""
    cjk: bool  # only Chinese characters (matched on name_chars)
    fuzzy: bool  # looks like a (Latin) name of 4+ letters: typos are looked for
    number: int | None  # a customer number

    @classmethod
    def parse(cls, q: str) -> Query:
        raw = q.strip()[:MAX_QUERY]
        key = " ".join(raw.lower().split())
        d = digits(raw) if _PHONE_LIKE.match(raw) else ""
        return cls(
            raw=raw,
            key=key,
            digits=d if len(d) >= 3 else "",
            cjk=bool(key) and all(_CJK.match(ch) for ch in key.replace(" ", "")),
            fuzzy=len(key) >= 4
            and not _CJK.search(key)
            and all(ch.isalpha() or ch in " '-." for ch in key),
            number=id_from_text(raw),
        )


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(col, s: str, *, ci: bool = False) -> ColumnElement[bool]:
    pattern = f"%{_esc(s)}%"
    return col.ilike(pattern, escape="\\") if ci else col.like(pattern, escape="\\")


def _starts(col, s: str, *, ci: bool = False) -> ColumnElement[bool]:
    pattern = f"{_esc(s)}%"
    return col.ilike(pattern, escape="\\") if ci else col.like(pattern, escape="\\")


def _rank3(exact, prefix) -> ColumnElement:
    return case((exact, literal(0.0)), (prefix, literal(1.0)), else_=literal(2.0))


def trigrams(s: str) -> list[str]:
    return sorted({s[i : i + 3] for i in range(len(s) - 2)})


# --- PostgreSQL ---------------------------------------------------------------------------------


def _finish(stmt: Select, live: ColumnElement[bool] | None) -> Select:
    """A branch ``(id, rank)`` → ``(id, rank, name_key)`` of live customers only: the name
    comes from the row the branch already read, so ordering the matches needs no second visit
    of every matching customer (only the page's rows are joined afterwards)."""
    if Contact.__table__ in stmt.get_final_froms():
        stmt = stmt.join(Customer, Customer.id == Contact.customer_id)
    stmt = stmt.add_columns(Customer.name_key)
    return stmt if live is None else stmt.where(live)


def _pg_strict(q: Query, live: ColumnElement[bool] | None) -> list[Select]:
    C, K = Customer, Contact
    k = q.key
    out: list[Select] = []
    name_prefix = or_(_starts(C.name_key, k), _contains(C.name_key, " " + k))
    if q.cjk:
        spaced = " " + " ".join(ch for ch in k if ch != " ") + " "
        out.append(
            select(C.id, _rank3(C.name_key == k, _starts(C.name_key, k))).where(
                _contains(C.name_chars, spaced)
            )
        )
    elif len(k) >= 3:
        out.append(
            select(C.id, _rank3(C.name_key == k, name_prefix)).where(_contains(C.name_key, k))
        )
    elif k:
        # One or two Latin letters have no trigram: name prefix only (b-tree on name_key).
        out.append(
            select(C.id, _rank3(C.name_key == k, literal(True))).where(
                C.name_key.between(k, k + _TOP)
            )
        )
    if len(k) >= 3 and not q.cjk:
        out.append(
            select(C.id, _rank3(func.lower(C.email) == k, _starts(C.email, k, ci=True))).where(
                _contains(C.email, k, ci=True)
            )
        )
        out.append(
            select(
                C.id, _rank3(func.lower(C.external_id) == k, _starts(C.external_id, k, ci=True))
            ).where(_contains(C.external_id, k, ci=True))
        )
        out.append(
            select(K.customer_id, _rank3(func.lower(K.email) == k, literal(False))).where(
                _contains(K.email, k, ci=True)
            )
        )
    elif k:
        out.append(select(C.id, literal(0.0)).where(C.external_id == q.raw))
    if k and (len(k) >= 3 or q.cjk):
        out.append(
            select(
                K.customer_id,
                _rank3(func.lower(K.name) == k, _starts(K.name, k, ci=True)),
            ).where(_contains(K.name, k, ci=True))
        )
    if q.digits:
        d = q.digits
        out.append(
            select(C.id, _rank3(C.phone_digits == d, _starts(C.phone_digits, d))).where(
                _contains(C.phone_digits, d)
            )
        )
        out.append(
            select(K.customer_id, _rank3(K.phone_digits == d, literal(False))).where(
                _contains(K.phone_digits, d)
            )
        )
    if q.number is not None:
        out.append(select(C.id, literal(0.0)).where(C.id == q.number))
    return [_finish(b, live) for b in out]


def _pg_fuzzy(q: Query, strict: list[Select], live: ColumnElement[bool] | None) -> Select | None:
    """Names close to a typo'd query (``<%``: pg_trgm word similarity, GIN-indexed); only runs
    (an InitPlan decides once) when the strict branches found fewer than ``FUZZY_BELOW``."""
    k = q.key
    if not q.fuzzy or not strict:
        return None
    few = (
        select(func.count())
        .select_from(union_all(*strict).limit(FUZZY_BELOW).subquery())
        .scalar_subquery()
        < FUZZY_BELOW
    )
    sim = func.word_similarity(k, Customer.name_key)
    return _finish(
        select(Customer.id, literal(4.0) - cast(sim, Float)).where(
            few, Customer.name_key.op("%>")(k)
        ),
        live,
    )


# --- SQLite -------------------------------------------------------------------------------------


def _grams_all(s: str) -> Select:
    """Customers having every trigram of ``s`` (3+ characters) or a piece starting with it."""
    G = SearchGram
    if len(s) >= 3:
        tg = trigrams(s)
        return (
            select(G.customer_id)
            .where(G.gram.in_(tg))
            .group_by(G.customer_id)
            .having(func.count() == len(tg))
        )
    return select(G.customer_id).where(G.gram >= s, G.gram < s + _TOP).distinct()


def _sqlite_strict(q: Query, live: ColumnElement[bool] | None) -> list[Select]:
    C, K = Customer, Contact
    k, d = q.key, q.digits
    cands = []
    if k:
        cands.append(_grams_all(k))
    if d and d != k:
        cands.append(_grams_all(d))
    exact = [C.name_key == k, func.lower(C.email) == k, func.lower(C.external_id) == k]
    prefix = [
        _starts(C.name_key, k),
        _contains(C.name_key, " " + k),
        _starts(C.email, k),
        _starts(C.external_id, k),
    ]
    contains = [
        _contains(C.name_key, k),
        _contains(C.email, k),
        _contains(C.external_id, k),
        exists().where(
            K.customer_id == C.id,
            or_(
                _contains(K.name, k),
                _contains(K.email, k),
                *([_contains(K.phone_digits, d)] if d else []),
            ),
        ),
    ]
    if d:
        exact.append(C.phone_digits == d)
        prefix.append(_starts(C.phone_digits, d))
        contains.append(_contains(C.phone_digits, d))
    rank = case(
        (or_(*exact), literal(0.0)),
        (or_(*prefix), literal(1.0)),
        (or_(*contains), literal(2.0)),
        else_=None,
    )
    out: list[Select] = []
    if cands:
        ids = cands[0] if len(cands) == 1 else union_all(*cands)
        inner = select(C.id.label("id"), rank.label("rank"), C.name_key.label("name_key")).where(
            C.id.in_(ids), *([live] if live is not None else [])
        )
        sub = inner.subquery()
        out.append(select(sub.c.id, sub.c.rank, sub.c.name_key).where(sub.c.rank.is_not(None)))
    if q.number is not None:
        out.append(_finish(select(C.id, literal(0.0)).where(C.id == q.number), live))
    return out


def _sqlite_fuzzy(
    q: Query, strict: list[Select], live: ColumnElement[bool] | None
) -> Select | None:
    """Customers whose name shares at least half of the query's trigrams, closest first, when
    fewer than ``FUZZY_BELOW`` matched otherwise."""
    k = q.key
    if not q.fuzzy or not strict:
        return None
    tg = trigrams(k)
    need = max(2, math.ceil(len(tg) / 2))
    few = (
        select(func.count())
        .select_from(union_all(*strict).limit(FUZZY_BELOW).subquery())
        .scalar_subquery()
        < FUZZY_BELOW
    )
    G = SearchGram
    cands = (
        select(G.customer_id)
        .where(few, G.gram.in_(tg))
        .group_by(G.customer_id)
        .having(func.count() >= need)
    )
    # Fuzzy is about names: count the query's trigrams found in the name itself.
    in_name = sum(
        (case((func.instr(Customer.name_key, t) > 0, 1), else_=0) for t in tg), literal(0)
    )
    inner = (
        select(Customer.id.label("id"), in_name.label("shared"), Customer.name_key)
        .where(Customer.id.in_(cands), *([live] if live is not None else []))
        .subquery()
    )
    return select(
        inner.c.id, literal(4.0) - cast(inner.c.shared, Float) / len(tg), inner.c.name_key
    ).where(inner.c.shared >= need)


# --- the one entry point ------------------------------------------------------------------------


def _live(archived: bool | None) -> ColumnElement[bool] | None:
    if archived is True:
        return Customer.archived_at.is_not(None)
    if archived is False:
        return Customer.archived_at.is_(None)
    return None


def ranked(q: str, dialect: str, archived: bool | None = None):
    """``(id, rank, name_key)`` of every customer matching ``q`` (``archived``: False = active
    ones, True = archived ones, None = both), as a subquery named ``search_rank``; ``None`` for
    an empty query."""
    parsed = Query.parse(q)
    if not parsed.key:
        return None
    live = _live(archived)
    if dialect == "postgresql":
        strict = _pg_strict(parsed, live)
        fuzzy = _pg_fuzzy(parsed, strict, live)
    else:
        strict = _sqlite_strict(parsed, live)
        fuzzy = _sqlite_fuzzy(parsed, strict, live)
    parts = [*strict, *([fuzzy] if fuzzy is not None else [])]
    if not parts:
        parts = [select(Customer.id, literal(0.0), Customer.name_key).where(literal(False))]
    hits = union_all(*parts).subquery("hits")
    cols = list(hits.c)
    return (
        select(cols[0].label("id"), func.min(cols[1]).label("rank"), cols[2].label("name_key"))
        .group_by(cols[0], cols[2])
        .subquery(RANK_ALIAS)
    )


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def current_dialect() -> str:
    """The dialect of the default engine (for filters built without a session)."""
    from retento.core.config import get_settings

    url = get_settings().database_url
    return "postgresql" if url.startswith("postgresql") else "sqlite"


def apply(stmt: Select, q: str, dialect: str, archived: bool | None = None) -> Select:
    """``stmt`` (a select of Customer) restricted to the matches of ``q``, joined to their rank
    (order by ``RANK, RANK_NAME``); ``archived`` as in ``ranked`` (the caller filters too)."""
    sub = ranked(q, dialect, archived)
    if sub is None:
        return stmt
    return stmt.join(sub, sub.c.id == Customer.id).where(sub.c.rank.is_not(None))


def search(
    session: Session, q: str, *, limit: int = 20, include_archived: bool = False
) -> list[tuple[Customer, float]]:
    """The best ``limit`` matches of ``q`` with their rank (CLI, duplicate checks, pickers)."""
    archived = None if include_archived else False
    stmt = apply(select(Customer, RANK), q, dialect_of(session), archived)
    if not include_archived:
        stmt = stmt.where(Customer.archived_at.is_(None))
    stmt = stmt.order_by(RANK, RANK_NAME, Customer.id).limit(limit)
    return [(c, float(r)) for c, r in session.execute(stmt).all()]


def rank_label(rank: float) -> str:
    """exact / prefix / substring / fuzzy."""
    if rank < 0.5:
        return "exact"
    if rank < 1.5:
        return "prefix"
    if rank < 2.5:
        return "substring"
    return "fuzzy"
