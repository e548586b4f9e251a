"""Churn features from other domains: a registry that complaints, surveys, touchpoints and
loyalty register with, so scoring never imports them (lower layers stay independent).

A provider gives, for a cut-off moment, one row per customer with its columns (customers it
has nothing on may be missing: they get 0). The risk model is trained on earlier cut-offs, so a
provider must answer "as of that moment": only records that existed then.

Each column is also a churn reason code: its English and Chinese text lives in
``retento.analytics.churn_reasons.REASONS`` (``{n}`` is the customer's value), so a reason is
stored as ``{"code": column, "params": {"n": value}}`` and rendered at display time.

Register at import time of the domain package::

    from retento.scoring.features import FeatureProvider, register_feature_provider

    register_feature_provider(FeatureProvider("complaints", ("complaints_open",), load))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy.orm import Session

from retento.core.errors import Msg

Loader = Callable[[Session, datetime], pd.DataFrame]


@dataclass(frozen=True)
class FeatureProvider:
    """``load(session, as_of)`` returns a DataFrame indexed by customer id with ``columns``."""

    name: str
    columns: tuple[str, ...]
    load: Loader


_PROVIDERS: dict[str, FeatureProvider] = {}


def register_feature_provider(provider: FeatureProvider) -> None:
    """Add (or replace, by name) a provider. Each column needs a reason text in
    ``analytics.churn_reasons.REASONS``; that is checked when a run uses the provider (checking
    here would load the analytics stack into every process that imports a domain)."""
    for other in _PROVIDERS.values():
        clash = set(other.columns) & set(provider.columns)
        if other.name != provider.name and clash:
            raise ValueError(
                Msg(
                    "feature provider %(provider)s: column(s) %(columns)s already come from %(other)s",
                    provider=repr(provider.name),
                    columns=", ".join(sorted(clash)),
                    other=repr(other.name),
                )
            )
    _PROVIDERS[provider.name] = provider


def unregister_feature_provider(name: str) -> None:
    _PROVIDERS.pop(name, None)


def feature_providers() -> list[FeatureProvider]:
    """Registered providers, by name (a stable column order)."""
    return [_PROVIDERS[k] for k in sorted(_PROVIDERS)]


def check_reason_texts(providers: list[FeatureProvider]) -> None:
    """Every column must have an English and Chinese reason text (ValueError naming it)."""
    from retento.analytics.churn_reasons import REASONS

    for p in providers:
        missing = [c for c in p.columns if c not in REASONS]
        if missing:
            raise ValueError(
                Msg(
                    "churn feature provider %(provider)s: no reason text for %(columns)s (add it to retento.analytics.churn_reasons.REASONS)",
                    provider=repr(p.name),
                    columns=", ".join(missing),
                )
            )


def load_features(
    session: Session, as_of: datetime, providers: list[FeatureProvider] | None = None
) -> pd.DataFrame:
    """All providers' columns as of ``as_of``, one row per customer they know (0 where missing)."""
    frames = []
    for p in feature_providers() if providers is None else providers:
        frame = p.load(session, as_of)
        frame = frame.reindex(columns=list(p.columns))
        frames.append(frame.astype(float))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, axis=1).fillna(0.0)
    out.index = out.index.astype("int64")
    out.index.name = "customer_id"
    return out
