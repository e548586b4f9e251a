"""Customer search: one query builder for the list page, the API, the CLI and duplicate checks.

What is matched: the name (any part, Chinese given names included: one character is enough),
the email, the phone (any run of digits; spaces and punctuation in the query or the stored
number do not matter), the external id, a contact's name, email or phone, and the customer
number. Ranked: exact (0: the customer's own name, email, external id, phone or number; 0.5:
a contact's whole name, email or phone) > prefix of a field or of a word in the name (1) >
substring (2) > fuzzy (3..4, closest first: only when fewer than ``FUZZY_BELOW`` customers
matched otherwise). A Chinese name is the same typed with or without spaces ("林 涛", "林涛").

Everything is read from ``customer_search`` (migration 0022: one narrow row per customer, kept
by triggers): ``hay`` holds every searchable text of the customer joined by char(31), so one
row visit checks and ranks all fields. PostgreSQL finds the rows with pg_trgm GIN indexes on
``hay`` and ``digits``; SQLite with its trigram table (``customer_search_grams``, 0017). A typo'd
name is compared with the distinct words of all names (``customer_name_words``), and only the
customers having a close word are read. A capped search (``COUNT_CAP``) ranks the first
``COUNT_CAP + 1`` substring matches plus every exact name and name prefix.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sqlalchemy import (
    Float,
    Select,
    and_,
    case,
    cast,
    event,
    false,
    func,
    intersect,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool
from sqlalchemy.sql.elements import ColumnElement

from retento.core.validation import id_from_text
from retento.customers.models import Customer, SearchGram
from retento.customers.search_tables import SEP, NameWord, SearchRow

# Alias of the ranked id subquery joined by ``customer_filter``; ``RANK`` orders by relevance.
RANK_ALIAS = "search_rank"
RANK = literal_column(f"{RANK_ALIAS}.rank")
RANK_NAME = literal_column(f"{RANK_ALIAS}.name_key")
FUZZY_BELOW = 10
# A search's total counts up to this many (the API then says ``total_is_lower_bound``).
COUNT_CAP = 1_000
# word_similarity threshold for a typo'd name (pg_trgm's default is 0.6).
FUZZY_THRESHOLD = 0.45
MAX_QUERY = 200
# The rank of a contact's whole name, email or phone: exact, after the customer's own fields.
CONTACT_EXACT = 0.5

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
    name: str  # the key as a name is compared: Chinese characters without the spaces typed
    digits: str  # the digits if the query looks like a phone number (3+ digits), else ""
    cjk: bool  # only Chinese characters (matched on name_chars)
    fuzzy: bool  # looks like a (Latin) name of 4+ letters: typos are looked for
    number: int | None  # a customer number

    @classmethod
    def parse(cls, q: str) -> Query:
        raw = q.strip()[:MAX_QUERY]
        key = " ".join(raw.lower().split())
        d = digits(raw) if _PHONE_LIKE.match(raw) else ""
        cjk = bool(key) and all(_CJK.match(ch) for ch in key.replace(" ", ""))
        return cls(
            raw=raw,
            key=key,
            name=key.replace(" ", "") if cjk else key,
            digits=d if len(d) >= 3 else "",
            cjk=cjk,
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


def trigrams(s: str) -> list[str]:
    return sorted({s[i : i + 3] for i in range(len(s) - 2)})


@event.listens_for(Pool, "connect")
def _fuzzy_threshold(dbapi_conn, _record) -> None:
    """Set pg_trgm's word-similarity threshold (used by the indexed ``%>`` operator) on every
    new PostgreSQL connection; other databases are left alone."""
    if not type(dbapi_conn).__module__.startswith("psycopg"):
        return
    was = dbapi_conn.autocommit
    dbapi_conn.autocommit = True
    try:
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET pg_trgm.word_similarity_threshold = {FUZZY_THRESHOLD}")
    finally:
        dbapi_conn.autocommit = was


# --- both databases: one narrow row per customer (migration 0022) ------------------------------


def _rank_parts(q: Query):
    """``(conds, rank)``: what matches ``q`` on a search row, and its rank there."""
    S = SearchRow
    k, d, n = q.key, q.digits, q.name
    conds: list[ColumnElement[bool]] = []
    own: list[ColumnElement[bool]] = []  # the customer's own name or number: exact
    exact: list[ColumnElement[bool]] = []  # a whole field of ``hay``/``digits``, maybe a contact's
    mine: list[ColumnElement[bool]] = []  # that whole field is the customer's own (not a contact's)
    prefix: list[ColumnElement[bool]] = []
    if k:
        # A Chinese name is compared without spaces, typed or stored ("林 涛" is "林涛").
        name = func.replace(S.name_key, " ", "") if q.cjk else S.name_key
        own.append(name == n)
        exact.append(_contains(S.hay, SEP + n + SEP))
        mine += [func.lower(Customer.email) == k, func.lower(Customer.external_id) == k]
        prefix += [_starts(name, n), _contains(S.hay, SEP + n)]
        if q.cjk:
            conds.append(_contains(S.hay, " " + " ".join(n) + " "))
            # A contact's name ("赵采购") is in ``hay`` as written (only the customer's own name
            # has its characters spaced): found from its start ("赵", "赵采"), and three or more
            # characters anywhere. Like one or two Latin letters, a shorter fragment inside a
            # field is not looked for: no trigram index could find it.
            conds.append(_contains(S.hay, SEP + n))
            if len(n) >= 3:
                conds.append(_contains(S.hay, n))
            if k != n:  # a contact's name written with the spaces typed
                conds.append(_contains(S.hay, SEP + k))
                exact.append(_contains(S.hay, SEP + k + SEP))
        elif len(k) >= 3:
            conds.append(_contains(S.hay, k))
            prefix.append(_contains(S.name_key, " " + k))
        else:
            # One or two Latin letters: a name prefix (b-tree) or a whole field.
            conds += [S.name_key.between(k, k + _TOP), _contains(S.hay, SEP + k + SEP)]
    if d:
        conds.append(_contains(S.digits, d))
        exact.append(_contains(S.digits, SEP + d + SEP))
        mine.append(Customer.phone_digits == d)
        prefix.append(_contains(S.digits, SEP + d))
    if q.number is not None:
        conds.append(S.customer_id == q.number)
        own.append(S.customer_id == q.number)
    # Whose the whole field is, the customer's or a contact's, only the customer row tells: read
    # for the few rows having a whole field equal to the query (CASE stops at the first match).
    its_own = select(Customer.id).where(Customer.id == S.customer_id, or_(*mine)).exists()
    rank = case(
        (or_(*own), literal(0.0)),
        (and_(or_(*exact), its_own), literal(0.0)),
        (or_(*exact), literal(CONTACT_EXACT)),
        (or_(*prefix), literal(1.0)),
        else_=literal(2.0),
    )
    return conds, rank


def _row(rank: ColumnElement, *where: ColumnElement[bool] | None) -> Select:
    S = SearchRow
    return select(
        S.customer_id.label("id"), rank.label("rank"), S.name_key.label("name_key")
    ).where(*(w for w in where if w is not None))


def _strict(q: Query, live: ColumnElement[bool] | None, dialect: str) -> Select | None:
    """``(id, rank, name_key)`` of the customers matching ``q`` exactly, by prefix or as a
    substring: one pass over ``customer_search`` (PostgreSQL: the trigram GIN indexes on
    ``hay``/``digits`` find the rows; SQLite: the trigram table), each row checked and ranked
    on itself."""
    S = SearchRow
    conds, rank = _rank_parts(q)
    if not conds:
        return None
    found = None
    if dialect != "postgresql":
        texts = [_grams_each(q.name) if q.cjk else _grams_all(q.key)]
        cands = texts + ([_grams_all(q.digits)] if q.digits and q.digits != q.key else [])
        found = S.customer_id.in_(cands[0] if len(cands) == 1 else union_all(*cands))
        if q.number is not None:
            found = or_(found, S.customer_id == q.number)
    return _row(rank, or_(*conds), found, live)


def _best(q: Query, live: ColumnElement[bool] | None, dialect: str, cap: int) -> list[Select]:
    """The rows ranked exact or prefix, found apart from the substring matches so that a capped
    search keeps them whatever the cap leaves out: names starting with the query (a b-tree
    range, first by name: what the page shows first), and for a Latin query of 3+ letters on
    PostgreSQL any field or name word starting with it (the trigram index knows word starts)."""
    S = SearchRow
    k = q.key
    if not k:
        return []
    _, rank = _rank_parts(q)
    n = q.name
    out = [_row(rank, S.name_key.between(n, n + _TOP), live).order_by(S.name_key).limit(cap + 1)]
    if dialect == "postgresql" and len(k) >= 3 and not q.cjk:
        starts = or_(_contains(S.hay, SEP + k), _contains(S.hay, " " + k))
        out.append(_row(rank, starts, live).limit(cap + 1))
    return [select(b.subquery()) for b in out]


def _fuzzy_words(q: Query) -> list[str]:
    return [w for w in q.key.split() if len(w) >= 4]


def _few(strict) -> ColumnElement[bool]:
    """Whether the strict matches (a CTE, read once) are fewer than ``FUZZY_BELOW``."""
    return (
        select(func.count())
        .select_from(select(strict.c.id).limit(FUZZY_BELOW).subquery())
        .scalar_subquery()
        < FUZZY_BELOW
    )


def _closest(fuzzy: Select, sim, cap: int | None) -> Select:
    """A capped fuzzy branch keeps its ``cap + 1`` closest matches."""
    if cap is None:
        return fuzzy
    return select(fuzzy.order_by(sim.desc()).limit(cap + 1).subquery())


def _pg_fuzzy(q: Query, strict, live: ColumnElement[bool] | None, cap: int | None) -> Select | None:
    """Customers having a name word close to a word of a typo'd query (pg_trgm word similarity
    on the distinct name words, GIN-indexed), closest first; only runs (an InitPlan decides
    once) when the strict search found fewer than ``FUZZY_BELOW``."""
    words = _fuzzy_words(q)
    if not q.fuzzy or strict is None or not words:
        return None
    W = NameWord
    sims = [func.word_similarity(w, W.word) for w in words]
    close = (
        select(
            W.word.label("word"), (sims[0] if len(sims) == 1 else func.greatest(*sims)).label("sim")
        )
        .where(_few(strict), or_(*(W.word.op("%>")(w) for w in words)))
        # Closest first: a capped search then reads the next word's customers only if needed.
        .order_by(literal_column("sim").desc())
        .subquery("close_words")
    )
    pattern = literal("%") + func.retento_like_escape(close.c.word) + literal("%")
    S = SearchRow
    # Per close word (LATERAL), so that a capped search stops after cap + 1 customers a word.
    rows = select(S.customer_id.label("id"), S.name_key.label("name_key")).where(
        S.hay.like(pattern),
        func.strpos(" " + S.name_key + " ", " " + close.c.word + " ") > 0,
        *([live] if live is not None else []),
    )
    rows = (rows if cap is None else rows.limit(cap + 1)).lateral("fuzzy_rows")
    fuzzy = (
        select(rows.c.id, literal(4.0) - cast(close.c.sim, Float), rows.c.name_key)
        .select_from(close)
        .join(rows, true())
    )
    return _closest(fuzzy, close.c.sim, cap)


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


def _grams_each(chars: str) -> Select:
    """Customers having every character of ``chars`` (Chinese) somewhere: the customer's own name
    matches on its characters (``name_chars``), whatever stands between them in the name."""
    G = SearchGram
    each = [
        select(G.customer_id).where(G.gram >= ch, G.gram < ch + _TOP) for ch in dict.fromkeys(chars)
    ]
    return each[0].distinct() if len(each) == 1 else intersect(*each)


def _sqlite_fuzzy(
    q: Query, strict, live: ColumnElement[bool] | None, cap: int | None
) -> Select | None:
    """Customers having a name word that shares at least half of the trigrams of a word of the
    query, closest first, when fewer than ``FUZZY_BELOW`` matched otherwise."""
    words = _fuzzy_words(q)
    if not q.fuzzy or strict is None or not words:
        return None
    W, S, G = NameWord, SearchRow, SearchGram
    shares, enough = [], []
    for w in words:
        tg = trigrams(w)
        shared = sum((case((func.instr(W.word, t) > 0, 1), else_=0) for t in tg), literal(0))
        shares.append(cast(shared, Float) / len(tg))
        enough.append(shared >= max(2, math.ceil(len(tg) / 2)))
    close = (
        select(
            W.word.label("word"),
            (shares[0] if len(shares) == 1 else func.max(*shares)).label("sim"),
        )
        .where(_few(strict), or_(*enough))
        .subquery("close_words")
    )
    having_gram = select(G.customer_id).where(G.gram == func.substr(close.c.word, 1, 3))
    fuzzy = (
        select(S.customer_id, literal(4.0) - close.c.sim, S.name_key)
        .select_from(close)
        .join(
            S,
            and_(
                S.customer_id.in_(having_gram),
                func.instr(" " + S.name_key + " ", " " + close.c.word + " ") > 0,
            ),
        )
        .where(*([live] if live is not None else []))
    )
    return _closest(fuzzy, close.c.sim, cap)


# --- the one entry point ------------------------------------------------------------------------


def _live(archived: bool | None) -> ColumnElement[bool] | None:
    if archived is True:
        return SearchRow.archived == true()
    if archived is False:
        return SearchRow.archived == false()
    return None


def ranked(q: str, dialect: str, archived: bool | None = None, *, cap: int | None = None):
    """``(id, rank, name_key)`` of every customer matching ``q`` (``archived``: False = active
    ones, True = archived ones, None = both), as a subquery named ``search_rank``; ``None`` for
    an empty query.

    ``cap``: rank only the first ``cap + 1`` substring matches found (plus every exact name and
    name prefix): enough to tell "more than ``cap``" and to keep a search for a very common
    fragment fast; ``None`` ranks every match (exports, sorted lists)."""
    parsed = Query.parse(q)
    if not parsed.key:
        return None
    live = _live(archived)
    strict = _strict(parsed, live, dialect)
    parts: list[Select] = []
    fuzzy = None
    if strict is not None:
        # Read once (a CTE): the page, the total and the "few matches: try typos" test.
        hits = (strict if cap is None else strict.limit(cap + 1)).cte("search_hits")
        parts.append(select(hits.c.id, hits.c.rank, hits.c.name_key))
        if cap is not None:
            # Only when the substring matches reached the cap (an InitPlan decides once):
            # otherwise they hold every exact and prefix match already.
            full = (
                select(func.count())
                .select_from(select(hits.c.id).limit(cap + 1).subquery())
                .scalar_subquery()
                > cap
            )
            parts += [b.where(full) for b in _best(parsed, live, dialect, cap)]
        fuzzy_of = _pg_fuzzy if dialect == "postgresql" else _sqlite_fuzzy
        fuzzy = fuzzy_of(parsed, hits, live, cap)
    if fuzzy is not None:
        parts.append(fuzzy)
    if not parts:
        parts = [select(SearchRow.customer_id, literal(0.0), SearchRow.name_key).where(false())]
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
    """The best ``limit`` matches of ``q`` with their rank (CLI, duplicate checks, pickers):
    ranked on the search rows alone (capped at ``COUNT_CAP``), then only those customers read."""
    sub = ranked(q, dialect_of(session), None if include_archived else False, cap=COUNT_CAP)
    if sub is None:
        return []
    best = session.execute(
        select(sub.c.id, sub.c.rank).order_by(sub.c.rank, sub.c.name_key, sub.c.id).limit(limit)
    ).all()
    loaded = {
        c.id: c
        for c in session.scalars(select(Customer).where(Customer.id.in_([i for i, _ in best])))
    }
    return [(loaded[i], float(r)) for i, r in best if i in loaded]


def rank_label(rank: float) -> str:
    """exact / prefix / substring / fuzzy."""
    if rank < 1:
        return "exact"
    if rank < 2:
        return "prefix"
    if rank < 3:
        return "substring"
    return "fuzzy"
