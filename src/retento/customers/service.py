"""Customer state changes and queries."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import acts_on_all, acts_on_own, require
from retento.core.db import utcnow
from retento.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    Msg,
    NotFound,
    RetentoError,
)
from retento.core.idempotency import insert_keyed, keyed_row
from retento.core.locking import lock_row
from retento.core.pagination import apply_sort, paginate
from retento.core.validation import clean_idempotency_key
from retento.core.versioning import check_version, lock_for_edit
from retento.customers import field_values, search
from retento.customers.duplicates import PossibleDuplicate, find_duplicates
from retento.customers.guard import lock_customer, refuse_merged
from retento.customers.models import (
    EXTERNAL_KINDS,
    INTERNAL_KINDS,
    KINDS,
    PARTY_TYPES,
    Contact,
    Customer,
    CustomerAssignment,
    CustomerTag,
)
from retento.customers.redaction import Redactor, forget_mail, holdings, redact_audit
from retento.customers.schemas import CustomerCreate, CustomerUpdate
from retento.web.i18n import N_
from retento.web.labels import check_code

SORTABLE = {
    "id": Customer.id,
    "name": Customer.name_key,
    "kind": Customer.kind,
    "external_id": Customer.external_id,
    "created_at": Customer.created_at,
    "acquired_on": Customer.acquired_on,
}


def name_key(name: str) -> str:
    return name.strip().lower()


def customer_snapshot(c: Customer) -> dict:
    return snapshot(
        c,
        {
            "tags": list(c.tags),
            "assigned_user_ids": list(c.assigned_user_ids),
            "contacts": [
                {
                    "name": k.name,
                    "role": k.role,
                    "email": k.email,
                    "phone": k.phone,
                    "is_primary": k.is_primary,
                }
                for k in c.contacts
            ],
        },
    )


def can_change_customer(actor: User, customer: Customer) -> bool:
    """Admins and managers (and custom roles of scope "all") change any customer; agents (and
    custom roles of scope "own") only those they own or are assigned."""
    if acts_on_all(actor):
        return True
    if acts_on_own(actor):
        return customer.owner_id == actor.id or actor.id in customer.assigned_user_ids
    return False


def referenced_customer(session: Session, customer_id: int) -> Customer:
    """The customer a new record names in ``customer_id``, locked against a merge
    (``guard.lock_customer``); 422 naming that field if none, 409 if it was merged."""
    c = lock_customer(session, customer_id)
    if c is None:
        raise InvalidInput(
            Msg("Customer %(id)s does not exist.", id=customer_id), field="customer_id"
        )
    return c


def require_customer_change(actor: User, customer: Customer, verb: str) -> None:
    """Role check plus the agent's ownership scope; an erased customer's record stays empty."""
    require(actor, verb)
    if not can_change_customer(actor, customer):
        raise Forbidden(
            Msg(
                "Agent '%(username)s' neither owns nor is assigned to customer %(id)s.",
                username=actor.username,
                id=customer.id,
            )
        )
    if verb == "customer:update" and customer.erased_at is not None:
        raise Conflict(
            Msg(
                "Customer %(id)s's personal data was erased; the record cannot be edited.",
                id=customer.id,
            ),
            field="id",
        )


def get_customer(session: Session, customer_id: int, *, actor: User) -> Customer:
    require(actor, "customer:read")
    c = session.get(Customer, customer_id)
    if c is None:
        raise NotFound("Customer", customer_id)
    return c


def get_by_external_id(session: Session, external_id: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.external_id == external_id))


def _check_user(session: Session, user_id: int | None, field: str) -> None:
    if user_id is not None:
        u = session.get(User, user_id)
        if u is None or not u.is_active:
            raise InvalidInput(
                Msg("User %(id)s does not exist or is inactive.", id=user_id), field=field
            )


def _check_external_id(
    session: Session, external_id: str | None, own_id: int | None = None
) -> None:
    if external_id is None:
        return
    other = session.scalar(select(Customer.id).where(Customer.external_id == external_id))
    if other is not None and other != own_id:
        raise Conflict(
            Msg(
                "external_id '%(value)s' is already used by customer %(id)s.",
                value=external_id,
                id=other,
            ),
            field="external_id",
        )


def _set_tags(c: Customer, tags: Iterable[str]) -> None:
    """Replace the tags with ``tags`` (call with the customer row locked, see update_customer)."""
    wanted = list(dict.fromkeys(tags))
    c.tag_rows = [t for t in c.tag_rows if t.tag in wanted] + [
        CustomerTag(tag=t) for t in wanted if t not in c.tags
    ]


def _check_one_primary(contacts: list[dict]) -> None:
    """A customer has at most one primary contact (a unique index backs this up)."""
    primary = [i for i, k in enumerate(contacts) if k.get("is_primary")]
    if len(primary) > 1:
        errors = [
            FieldError(f"contacts.{i}.is_primary", "Only one contact can be the primary one.")
            for i in primary[1:]
        ]
        raise InvalidInput(errors[0].message, field=errors[0].field, errors=errors)


def birth_date_problem(party_type: str | None, birth_date: object) -> InvalidInput | None:
    """An organisation has no date of birth (the loyalty birthday job is for people): the
    problem naming ``birth_date`` when both are given that way, else ``None``."""
    if party_type != "organisation" or not birth_date:
        return None
    message = Msg(
        "An organisation has no date of birth: leave the date of birth empty, or make the "
        "customer a person."
    )
    return InvalidInput(message, field="birth_date")


def field_problems(
    session: Session,
    *,
    owner_id: int | None = None,
    external_id: str | None = None,
    contacts: list[dict] | None = None,
    assigned_user_ids: list[int] | None = None,
    own_id: int | None = None,
    custom_fields: dict[str, Any] | None = None,
    stored_custom: dict[str, Any] | None = None,
    party_type: str | None = None,
    birth_date: object = None,
) -> list[RetentoError]:
    """Every problem with the fields that depend on stored rows (owner, assignees, external id,
    custom fields against their definitions) or on each other (one primary contact, no date of
    birth for an organisation), not only the first: a form shows them all at once. ``None``
    skips a check."""
    problems: list[RetentoError] = []
    if (born := birth_date_problem(party_type, birth_date)) is not None:
        problems.append(born)
    if custom_fields is not None:
        problems.extend(custom_field_values(session, custom_fields, stored_custom)[1])

    def attempt(check: Callable[..., object], *args: object) -> None:
        try:
            check(*args)
        except RetentoError as exc:
            problems.append(exc)

    attempt(_check_user, session, owner_id, "owner_id")
    for user_id in dict.fromkeys(assigned_user_ids or []):
        attempt(_check_user, session, user_id, "assigned_user_ids")
    attempt(_check_external_id, session, external_id, own_id)
    attempt(_check_one_primary, contacts or [])
    return problems


def custom_field_values(
    session: Session, values: dict[str, Any] | None, stored: dict[str, Any] | None
) -> tuple[dict[str, Any], list[RetentoError]]:
    """``(custom_fields to store, problems)`` checked against the definitions
    (``customers.field_values``): each problem names ``custom_fields.<key>``."""
    clean, found = field_values.check_values(
        field_values.definitions(session), values or {}, stored or {}
    )
    problems: list[RetentoError] = [
        InvalidInput(
            Msg("%(field)s: %(reason)s", field=p.field, reason=p.message),
            field=p.field,
            errors=[p],
        )
        for p in found
    ]
    return clean, problems


def check_fields(session: Session, **fields: Any) -> None:
    """Raise the problems of ``field_problems`` together: the first one's status and message,
    every one of them in ``errors``."""
    problems = field_problems(session, **fields)
    if problems:
        first = problems[0]
        first.errors = [e for p in problems for e in (p.errors or [FieldError(p.field, p.message)])]
        raise first


def _replace_contacts(session: Session, c: Customer, contacts: list[dict]) -> None:
    """Replace the contact list (call with the customer row locked, see update_customer).

    The old rows are deleted and flushed first: the unit of work inserts before it deletes, and
    a new primary next to the old one would break the one-primary index.
    """
    _check_one_primary(contacts)
    if c.contacts:
        c.contacts = []
        session.flush()
    c.contacts = [Contact(**k) for k in contacts]


def create_customer(
    session: Session,
    data: CustomerCreate,
    *,
    actor: User,
    force: bool = True,
    idempotency_key: str | None = None,
) -> Customer:
    """Create a customer; an agent who creates one becomes its owner.

    ``force=False`` (the API and the web form by default) first looks for possible duplicates
    (same email, phone digits or name) and raises ``PossibleDuplicate`` (409) listing them.
    With ``idempotency_key`` (the form's key, the API's ``Idempotency-Key``) a repeated request
    (a double click, a retry) returns the customer the first one created, before looking for
    duplicates; the same key with another name is a 409 (core.idempotency).
    """
    require(actor, "customer:create")
    key = clean_idempotency_key(idempotency_key)
    if key and (done := keyed_row(session, Customer, key, _same_name(data.name))):
        return done
    if not force:
        matches = find_duplicates(session, name=data.name, email=data.email, phone=data.phone)
        if matches:
            # One of them may be this request's own customer, committed by a retry that ran
            # alongside it since the key was looked up.
            if key and (done := keyed_row(session, Customer, key, _same_name(data.name))):
                return done
            raise PossibleDuplicate(matches)
    owner_id = data.owner_id
    if acts_on_own(actor):
        if owner_id not in (None, actor.id):
            raise Forbidden("Agents can only create customers they own.")
        owner_id = actor.id
    contacts = [k.model_dump() for k in data.contacts]
    check_fields(
        session,
        owner_id=owner_id,
        external_id=data.external_id,
        contacts=contacts,
        custom_fields=data.custom_fields,
        party_type=data.party_type,
        birth_date=data.birth_date,
    )
    fields = data.model_dump(exclude={"tags", "contacts", "owner_id"})
    fields["custom_fields"] = custom_field_values(session, data.custom_fields, None)[0]
    c = Customer(**fields, owner_id=owner_id, name_key=name_key(data.name), idempotency_key=key)
    c.contacts = [Contact(**k) for k in contacts]
    _set_tags(c, data.tags)
    c, created = insert_keyed(session, c, key, _same_name(data.name))
    if created:
        record(session, actor, "create", "customer", c.id, None, customer_snapshot(c))
    return c


def _same_name(name: str):
    return lambda c: c.name == name


def update_customer(
    session: Session,
    customer_id: int,
    data: CustomerUpdate,
    *,
    actor: User,
    expected_version: int | None = None,
) -> Customer:
    """Apply the fields that were sent; owner and assignments need ``customer:assign``.

    Tags, contacts and assignments are replaced, not merged. The customer row is locked first,
    so parallel edits run one after the other and each sees the last one's result; a client that
    sends the version it edited (``data.version`` or ``expected_version`` from If-Match) gets a
    409 if someone else saved in between. Every change bumps the version.
    """
    c = get_customer(session, customer_id, actor=actor)
    lock_for_edit(session, c, data.version, expected_version)
    # Under the lock: an edit that waited for a merge of this customer finds it merged.
    refuse_merged(c, "id")
    require_customer_change(actor, c, "customer:update")
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if ("owner_id" in changes and changes["owner_id"] != c.owner_id) or (
        "assigned_user_ids" in changes
        and set(changes["assigned_user_ids"] or []) != set(c.assigned_user_ids)
    ):
        require(actor, "customer:assign")
    for key in ("name",):
        if key in changes and changes[key] is None:
            raise InvalidInput(Msg("%(field)s cannot be empty.", field=key), field=key)
    before = customer_snapshot(c)
    # A change of either (the form sends both) is checked against the other as it will be;
    # an organisation stored with a date of birth before this rule can still be edited
    # otherwise, and is refused only once one of the two is sent.
    born = "party_type" in changes or "birth_date" in changes
    check_fields(
        session,
        owner_id=changes.get("owner_id"),
        external_id=changes.get("external_id"),
        contacts=changes.get("contacts"),
        assigned_user_ids=changes.get("assigned_user_ids"),
        own_id=c.id,
        custom_fields=(changes.get("custom_fields") or {}) if "custom_fields" in changes else None,
        stored_custom=c.custom_fields,
        party_type=(changes.get("party_type") or c.party_type) if born else None,
        birth_date=changes.get("birth_date", c.birth_date) if born else None,
    )
    if "custom_fields" in changes:
        changes["custom_fields"] = custom_field_values(
            session, changes["custom_fields"], c.custom_fields
        )[0]
    if "tags" in changes:
        _set_tags(c, changes.pop("tags") or [])
    if "contacts" in changes:
        _replace_contacts(session, c, changes.pop("contacts") or [])
    if "assigned_user_ids" in changes:
        ids = list(dict.fromkeys(changes.pop("assigned_user_ids") or []))
        c.assignments = [a for a in c.assignments if a.user_id in ids] + [
            CustomerAssignment(user_id=u) for u in ids if u not in c.assigned_user_ids
        ]
    for key, value in changes.items():
        setattr(c, key, value)
    if "name" in changes:
        c.name_key = name_key(c.name)
    if customer_snapshot(c) != before:
        # Child rows (contacts, tags, assignments) do not touch the customer row; this does,
        # so the version goes up for them too.
        c.updated_at = utcnow()
    session.flush()
    record(session, actor, "update", "customer", c.id, before, customer_snapshot(c))
    return c


def _locked(
    session: Session, customer_id: int, *, actor: User, version: int | None = None
) -> Customer:
    """The customer, read and then locked (archive, restore, erase and purge re-check under it);
    a ``version`` the client saw (If-Match, the page's hidden input) that is no longer the
    stored one is a 409 ``version_conflict`` before anything changes."""
    c = get_customer(session, customer_id, actor=actor)
    locked = lock_row(session, Customer, c.id)
    if locked is None:
        raise NotFound("Customer", customer_id)
    # Under the lock: a parallel request with the same version waited here and now finds the
    # version the first one committed.
    check_version(locked, version)
    return locked


def _cancel_survey_mail(session: Session, customer_id: int, why: str) -> int:
    """Cancel the survey invitations and reminders still waiting in the outbox for a customer."""
    from retento.mail.models import OutboxMessage

    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.customer_id == customer_id,
            OutboxMessage.status == "queued",
            OutboxMessage.kind.in_(("survey_invitation", "survey_reminder")),
        )
        .values(status="cancelled", last_error=why)
    )
    return result.rowcount or 0


def archive_customer(
    session: Session, customer_id: int, *, actor: User, version: int | None = None
) -> Customer:
    """Archive a customer: hidden from lists, search, scoring and survey distributions; orders,
    refunds, complaints and the rest of the history stay (and stay in revenue reports).

    Archiving an archived customer changes nothing (a retried request is harmless). A stale
    ``version`` (If-Match, the 360 page's hidden input) gets 409 and archives nothing: the
    customer was edited, archived or restored since it was read.
    """
    require(actor, "customer:archive")
    c = _locked(session, customer_id, actor=actor, version=version)
    if c.archived_at is not None:
        return c
    c.archived_at = utcnow()
    c.archived_by_id = actor.id
    cancelled = _cancel_survey_mail(session, c.id, "customer archived")
    session.flush()
    record(
        session,
        actor,
        "archive",
        "customer",
        c.id,
        {"archived_at": None, "archived_by_id": None},
        {
            "archived_at": c.archived_at.isoformat(),
            "archived_by_id": actor.id,
            "survey_emails_cancelled": cancelled,
        },
    )
    return c


def restore_customer(
    session: Session, customer_id: int, *, actor: User, version: int | None = None
) -> Customer:
    """Bring an archived customer back into lists, search, scoring and surveys.

    Erased customers stay archived: there is nobody left to work with (409). A stale
    ``version`` gets 409 and restores nothing.
    """
    require(actor, "customer:archive")
    c = _locked(session, customer_id, actor=actor, version=version)
    if c.erased_at is not None:
        raise Conflict(
            Msg("Customer %(id)s was erased; an erased customer cannot be restored.", id=c.id),
            field="id",
        )
    if c.archived_at is None:
        return c
    before = {"archived_at": c.archived_at.isoformat(), "archived_by_id": c.archived_by_id}
    c.archived_at = None
    c.archived_by_id = None
    session.flush()
    record(
        session,
        actor,
        "restore",
        "customer",
        c.id,
        before,
        {"archived_at": None, "archived_by_id": None},
    )
    return c


def delete_customer(
    session: Session, customer_id: int, *, actor: User, version: int | None = None
) -> Customer:
    """What "delete" means for a customer: archive it (see ``archive_customer``)."""
    return archive_customer(session, customer_id, actor=actor, version=version)


def restricting_records(session: Session, customer_id: int) -> dict[str, int]:
    """Rows that keep a customer from being deleted: every table whose foreign key to
    ``customers`` does not cascade (orders, complaints, and any domain that adds one)."""
    found: dict[str, int] = {}
    for table in Customer.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name != "customers" or table.name == "customers":
                continue
            if (fk.ondelete or "NO ACTION").upper() in ("CASCADE", "SET NULL", "SET DEFAULT"):
                continue
            n = session.scalar(
                select(func.count()).select_from(table).where(fk.parent == customer_id)
            )
            if n:
                found[table.name] = found.get(table.name, 0) + n
    return found


def purge_customer(
    session: Session, customer_id: int, *, actor: User, version: int | None = None
) -> None:
    """Permanently delete a customer entered by mistake (a duplicate, a test record).

    Refused (409) while orders, refunds, complaints or other financial records point at the
    customer: those are archived or erased instead. Contacts, tags, touchpoints, survey
    invitations and scores go with the customer; survey responses stay, without the customer.
    The audit log keeps that the customer existed, not who it was. A stale ``version``
    (If-Match) gets 409 and deletes nothing.
    """
    require(actor, "customer:delete")
    c = _locked(session, customer_id, actor=actor, version=version)
    held = restricting_records(session, c.id)
    if held:
        listed = ", ".join(f"{n} {table}" for table, n in sorted(held.items()))
        raise Conflict(
            Msg(
                "Customer %(id)s has financial records (%(records)s) and cannot be deleted; "
                "archive it, or erase its personal data, instead.",
                id=c.id,
                records=listed,
            ),
            field="id",
        )
    redactor = Redactor.for_customer(session, c)
    redacted = redact_audit(session, c, redactor)
    # Its mail waiting in the outbox is not sent after all, and keeps no address (the rows
    # would otherwise outlive the customer, their customer_id set to null, still queued).
    mails = forget_mail(session, holdings(session, c.id).of("mail_message"), redactor)
    kept = {k: customer_snapshot(c).get(k) for k in ("id", "party_type", "kind", "created_at")}
    session.delete(c)
    session.flush()
    record(
        session,
        actor,
        "delete",
        "customer",
        customer_id,
        {**kept, "personal_data": "not kept"},
        {"audit_entries_redacted": redacted, "emails_forgotten": mails},
    )


def customer_filter(
    *,
    q: str | None = None,
    kind: str | None = None,
    scope: str | None = None,
    tag: str | None = None,
    owner_id: int | None = None,
    party_type: str | None = None,
    mine_for: User | None = None,
    archived: bool | None = False,
    dialect: str | None = None,
    member_of: Select | None = None,
    custom_field: tuple[str, str, Any] | None = None,
) -> Select:
    """The customer list query before sorting; shared by the API, the web list and export.

    ``q`` goes through ``customers.search`` (substring, digits, Chinese characters, fuzzy); the
    query is then joined to the matches' rank: order by ``search.RANK`` for relevance.
    ``dialect``: the database's (``search.dialect_of(session)``); default from the settings.

    ``archived``: ``False`` (default) active customers only, ``True`` archived ones only (erased
    customers are archived too), ``None`` both.

    ``custom_field``: ``(key, type, value)`` of a choice or yes/no custom field
    (``field_values.filter_clause``).
    """
    stmt = select(Customer)
    if archived is True:
        stmt = stmt.where(Customer.archived_at.is_not(None))
    elif archived is False:
        stmt = stmt.where(Customer.archived_at.is_(None))
    if q and q.strip():
        stmt = search.apply(stmt, q, dialect or search.current_dialect(), archived)
    if kind:
        check_code("kind", N_("Kind"), kind, KINDS)
        stmt = stmt.where(Customer.kind == kind)
    if scope == "external":
        stmt = stmt.where(Customer.kind.in_(EXTERNAL_KINDS))
    elif scope == "internal":
        stmt = stmt.where(Customer.kind.in_(INTERNAL_KINDS))
    elif scope:
        raise InvalidInput("scope must be 'external' or 'internal'.", field="scope")
    if tag:
        stmt = stmt.where(
            exists().where(
                CustomerTag.customer_id == Customer.id, CustomerTag.tag == tag.strip().lower()
            )
        )
    if owner_id is not None:
        stmt = stmt.where(Customer.owner_id == owner_id)
    if party_type:
        # A typo ("org") would list nothing and export an empty file without a word.
        check_code("party_type", N_("Person or organisation"), party_type, PARTY_TYPES)
        stmt = stmt.where(Customer.party_type == party_type)
    if member_of is not None:
        # ``SELECT customer_id`` of a saved segment (Insights) or any other customer set.
        stmt = stmt.where(Customer.id.in_(member_of))
    if custom_field is not None:
        key, field_type, value = custom_field
        dialect = dialect or search.current_dialect()
        stmt = stmt.where(field_values.filter_clause(key, field_type, value, dialect))
    if mine_for is not None:
        stmt = stmt.where(
            or_(
                Customer.owner_id == mine_for.id,
                exists().where(
                    CustomerAssignment.customer_id == Customer.id,
                    CustomerAssignment.user_id == mine_for.id,
                ),
            )
        )
    return stmt


def search_page_ids(
    session: Session,
    *,
    limit: int,
    offset: int,
    with_total: bool = True,
    **filters,
) -> tuple[list[int], int]:
    """Ids of one page of a search (``filters["q"]`` set), best match first, and the number of
    matches (-1 unless ``with_total``), counted up to ``search.COUNT_CAP``: more than that
    gives ``COUNT_CAP + 1`` ("more than 10,000"; ``total_is_lower_bound``).

    With no filter besides ``q`` and ``archived`` the page comes from the search rows alone
    (each carries its name and archived state): no customer is read, and the total comes from
    the same pass (``count(*) OVER ()``). Pages within the first ``COUNT_CAP`` matches rank a
    capped set (``search.ranked(cap=...)``); deeper pages rank every match."""
    from sqlalchemy import func as fn

    if limit < 1 or limit > 500:
        raise InvalidInput("limit must be between 1 and 500.", field="limit")
    if offset < 0 or offset > 2**31 - 1:
        raise InvalidInput(
            Msg("offset must be between 0 and %(max)s.", max=2**31 - 1), field="offset"
        )
    dialect = search.dialect_of(session)
    cap = search.COUNT_CAP
    if _plain_search(filters):
        within = offset + limit <= cap
        sub = search.ranked(
            filters["q"], dialect, filters.get("archived", False), cap=cap if within else None
        )
        if sub is None:
            return [], 0
        cols = [sub.c.id] + ([fn.count().over()] if with_total else [])
        stmt = select(*cols).order_by(sub.c.rank, sub.c.name_key, sub.c.id)
    else:
        stmt = customer_filter(**filters, dialect=dialect)
        cols = [Customer.id] + ([fn.count().over()] if with_total else [])
        stmt = stmt.with_only_columns(*cols).order_by(search.RANK, search.RANK_NAME, Customer.id)
    rows = session.execute(stmt.limit(limit).offset(offset)).all()
    ids = [r[0] for r in rows]
    total = -1
    if with_total:
        if rows:
            total = min(int(rows[0][1]), cap + 1)
        elif offset == 0:
            total = 0
        else:  # a page past the end: count separately
            total = count_customers(session, **filters)
    return ids, total


def _plain_search(filters: dict) -> bool:
    return not any(
        filters.get(k) is not None and filters.get(k) != ""
        for k in (
            "kind", "scope", "tag", "owner_id", "party_type", "mine_for", "member_of",
            "custom_field",
        )
    )  # fmt: skip


def count_customers(session: Session, *, cap: int | None = None, **filters) -> int:
    """How many customers match ``filters``, counted up to ``cap`` (default
    ``search.COUNT_CAP``): more than that gives ``cap + 1``. A plain search counts its search
    rows only."""
    from sqlalchemy import func as fn

    cap = search.COUNT_CAP if cap is None else cap
    q = filters.get("q")
    if q and q.strip() and _plain_search(filters):
        sub = search.ranked(q, search.dialect_of(session), filters.get("archived", False), cap=cap)
        if sub is None:
            return 0
        inner = select(sub.c.id).limit(cap + 1).subquery()
    else:
        stmt = customer_filter(**filters, dialect=search.dialect_of(session))
        inner = stmt.with_only_columns(Customer.id).limit(cap + 1).subquery()
    return int(session.scalar(select(fn.count()).select_from(inner)) or 0)


def list_customers(
    session: Session,
    *,
    actor: User,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
    count: bool = True,
    **filters,
):
    """A filtered, sorted page of customers and the total (``list_customers_page``)."""
    rows, total, _ = list_customers_page(
        session, actor=actor, sort=sort, limit=limit, offset=offset, count=count, **filters
    )
    return rows, total


def list_customers_page(
    session: Session,
    *,
    actor: User,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
    count: bool = True,
    **filters,
):
    """A filtered, sorted page of customers, the total and whether the total is a lower bound.

    A search without ``sort`` comes best match first (``search_page_ids``). A search's total
    counts up to ``search.COUNT_CAP``; past it the total is ``COUNT_CAP + 1`` and the third
    value is True. Lists without a search count exactly."""
    require(actor, "customer:read")
    options = (
        selectinload(Customer.tag_rows),
        selectinload(Customer.contacts),
        selectinload(Customer.assignments),
    )
    searched = bool(filters.get("q") and filters["q"].strip())
    if searched and not sort:
        ids, total = search_page_ids(
            session, limit=limit, offset=offset, with_total=count, **filters
        )
        loaded = (
            {
                c.id: c
                for c in session.scalars(
                    select(Customer).where(Customer.id.in_(ids)).options(*options)
                )
            }
            if ids
            else {}
        )
        rows = [loaded[i] for i in ids if i in loaded]
    else:
        stmt = customer_filter(**filters, dialect=search.dialect_of(session))
        stmt = apply_sort(stmt, sort, SORTABLE, Customer.id)
        stmt = stmt.options(*options)
        rows, total = paginate(
            session, stmt, limit=limit, offset=offset, count=count and not searched
        )
        if searched and count:
            total = count_customers(session, **filters)
    return rows, total, searched and total > search.COUNT_CAP
