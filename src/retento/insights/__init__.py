"""Insights (数据挖掘): the analyst's area over the library in ``retento.analytics``.

Each analysis (segments, market baskets, sequences, forecasts, drivers, propensity, ...) is one
module in ``insights/pages/`` (web) and one in ``insights/routes/`` (JSON API); both packages
include every module they hold, and each page module registers its card on the Insights index
with :func:`retento.insights.registry.register_insight`.
"""
