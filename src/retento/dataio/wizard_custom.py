"""The import wizard's custom field targets: the defined fields and, as ``retento import`` and
``POST /api/v1/imports/customers`` read them, keys no field defines.

The importer (``import_base._resolve_header``) reads a customer column headed ``custom.<key>``
(any letter case, spaces and dashes as "_": ``custom.Loyalty Card`` is ``loyalty_card``) as the
key ``<key>`` whether a field defines it or not, and a mapping may send any column there. An
undefined key's cells are stored as they are read, as text ("other fields"); a breakdown key
``<key>.<part>`` of a defined field (``wallet_spend.coffee``) takes that field's type
(``import_records._typed_custom``). The mapping step offers and suggests the same target for
such a header, and the import stores what the CLI stores: the wizard only hands the importer a
mapping.

What the importer refuses the mapping step refuses too, with the importer's own words (422, the
column named): ``save_mapping`` runs its header check, which refuses two columns for one key and
a key no custom field could have (``import_base.custom_key_problem``: the rule of an
administrator's definition keys). This module adds only what the wizard's drop-down needs: a
target that is no field at all (the importer would ignore that column) is refused, and a refused
key is neither offered nor suggested.

A key that is neither defined nor named by the file's header (a column "Loyalty card no." to be
kept as ``custom.loyalty_card``) is typed under the column (``typed_target``), as
``retento import --map "Loyalty card no.=custom.loyalty_card"`` names it; once kept, the mapping
names it and the drop-down offers it like the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from retento.core.errors import InvalidInput, Msg
from retento.dataio.headers import CUSTOM, custom_field_names, custom_field_of
from retento.dataio.import_base import custom_key_problem
from retento.dataio.schemas import COLUMNS


def suggested(src: str, names: dict[str, str]) -> str | None:
    """The custom field target the mapping step suggests for a customer column no built-in field
    takes: a defined field's ``custom.<key>`` (by key, label or ``custom.<key>``), else the
    undefined key of a ``custom.<key>`` header the importer accepts (``names``:
    ``headers.custom_field_names``)."""
    target = custom_field_of(src, names)
    if target is None:
        return None
    key = target[len(CUSTOM) :]
    if key in names.values() or custom_key_problem(src, key) is None:
        return target
    return None


def undefined_targets(
    entity: str,
    header: Iterable[str],
    chosen: Iterable[str | None],
    defs: Sequence[Any],
) -> list[str]:
    """The ``custom.<key>`` targets of keys no field defines that the mapping step lists: those
    the file's ``custom.<key>`` headers name (when accepted), then those a mapping chose
    (``chosen``, kept as sent even when refused, so a refused page shows the choice), in order."""
    if entity != "customers":
        return []
    names = custom_field_names(defs)
    defined = set(names.values())
    out: list[str] = []
    for src in header:
        target = suggested(src, names) if src else None
        if target and target[len(CUSTOM) :] not in defined and target not in out:
            out.append(target)
    for target in chosen:
        if target and target.startswith(CUSTOM) and target[len(CUSTOM) :] not in defined:
            if target not in out:
                out.append(target)
    return out


def typed_target(text: str) -> str | None:
    """The target of a custom key typed for a column on the mapping step (``None``: nothing
    typed): ``loyalty_card`` (or ``custom.loyalty_card``) is ``custom.loyalty_card``. The key is
    taken as written, as a ``--map`` target is: the importer's header check refuses one no
    custom field could have (``import_base.custom_key_problem``), naming the column."""
    key = text.strip()
    if not key:
        return None
    if key.startswith(CUSTOM):
        key = key[len(CUSTOM) :]
    return CUSTOM + key


def check_targets(entity: str, columns: dict[str, str | None]) -> None:
    """Refuse a mapping with a target that is no field of ``entity`` (customers: every
    ``custom.<key>`` is one; the importer's header check then refuses the keys no field could
    have, every such column named)."""
    fields = {c.name for c in COLUMNS[entity]}
    for src, dst in columns.items():
        if dst is None or dst in fields:
            continue
        if entity == "customers" and dst.startswith(CUSTOM):
            continue
        raise InvalidInput(
            Msg("'%(field)s' is not a field of %(entity)s.", field=dst, entity=entity), field=src
        )
