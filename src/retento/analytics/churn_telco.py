"""The IBM Telco churn data (contractual, one row per customer) for the tabular path of
:class:`~retento.analytics.churn.ChurnRiskModel`: the documented preprocessing and reason
templates in English and Chinese. Re-exported by :mod:`retento.analytics.churn`."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["TELCO_FEATURE_LABELS", "telco_features"]

TELCO_FEATURE_LABELS: dict[str, tuple[str, str]] = {
    "tenure": ("customer for only {value:.0f} months", "入网仅{value:.0f}个月"),
    "Contract": ("contract: {value}", "合约类型：{value}"),
    "MonthlyCharges": ("monthly charges of {value:,.2f}", "月费{value:,.2f}"),
    "TotalCharges": ("total charges so far {value:,.2f}", "累计费用{value:,.2f}"),
    "InternetService": ("internet service: {value}", "上网服务：{value}"),
    "PaymentMethod": ("pays by {value}", "付款方式：{value}"),
    "PaperlessBilling": ("paperless billing: {value}", "电子账单：{value}"),
    "OnlineSecurity": ("online security: {value}", "网络安全服务：{value}"),
    "OnlineBackup": ("online backup: {value}", "在线备份：{value}"),
    "DeviceProtection": ("device protection: {value}", "设备保护：{value}"),
    "TechSupport": ("tech support: {value}", "技术支持：{value}"),
    "StreamingTV": ("streaming TV: {value}", "流媒体电视：{value}"),
    "StreamingMovies": ("streaming movies: {value}", "流媒体电影：{value}"),
    "PhoneService": ("phone service: {value}", "电话服务：{value}"),
    "MultipleLines": ("multiple lines: {value}", "多线路：{value}"),
    "SeniorCitizen": ("senior citizen: {value}", "老年用户：{value}"),
    "Partner": ("has a partner: {value}", "有伴侣：{value}"),
    "Dependents": ("has dependents: {value}", "有家属：{value}"),
    "gender": ("gender: {value}", "性别：{value}"),
}


def telco_features(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """IBM Telco churn data to ``(X, y)`` for :meth:`ChurnRiskModel.fit`.

    The documented preprocessing: ``customerID`` is dropped; ``TotalCharges`` (text, blank
    for the 11 customers with tenure 0) becomes a number with 0 for blanks; ``SeniorCitizen``
    (0/1) becomes "Yes"/"No"; every other text column stays a categorical feature; ``Churn``
    ("Yes"/"No") is the label. Use with ``ChurnRiskModel(linear=True,
    feature_labels=TELCO_FEATURE_LABELS)``.
    """
    needed = {"customerID", "tenure", "MonthlyCharges", "TotalCharges", "Churn"}
    missing = needed - set(frame.columns)
    if missing:
        raise ValueError(f"not the Telco layout: missing {', '.join(sorted(missing))}")
    y = (frame["Churn"].astype(str).str.strip() == "Yes").to_numpy().astype(int)
    X = frame.drop(columns=["customerID", "Churn"]).copy()
    X["TotalCharges"] = pd.to_numeric(X["TotalCharges"], errors="coerce").fillna(0.0)
    if "SeniorCitizen" in X:
        X["SeniorCitizen"] = np.where(X["SeniorCitizen"].astype(int) == 1, "Yes", "No")
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c]):
            X[c] = X[c].astype("string")
    return X, y
