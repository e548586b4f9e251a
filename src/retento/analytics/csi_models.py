"""Default specifications of the ACSI and ECSI customer-satisfaction index models.

A :class:`CSIModelSpec` fixes the latent variables and the structural paths of a model; the
user maps their own questionnaire items onto the latents and fits with
:func:`retento.analytics.fit_csi` (or :meth:`CSIModelSpec.fit`)::

    blocks = ECSI_MODEL.blocks_template()      # {"Image": [], "Expectation": [], ...}
    blocks["Image"] = ["img_1", "img_2", "img_3"]
    ...
    result = ECSI_MODEL.fit(survey, blocks, scale_range=(1, 10))

References
----------
Fornell, C., Johnson, M. D., Anderson, E. W., Cha, J., & Bryant, B. E. (1996). The American
Customer Satisfaction Index: nature, purpose, and findings. *Journal of Marketing*, 60(4),
7--18.

Tenenhaus, M., Esposito Vinzi, V., Chatelin, Y.-M., & Lauro, C. (2005). PLS path modeling.
*Computational Statistics & Data Analysis*, 48(1), 159--205 (the ECSI mobile-phone example,
section 6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from retento.analytics.pls import PLSPMResult, fit_csi

__all__ = ["ACSI_MODEL", "ECSI_MODEL", "CSIModelSpec"]


@dataclass(frozen=True)
class CSIModelSpec:
    """A customer-satisfaction index model: latent variables and structural paths.

    Attributes
    ----------
    name : str
        Short model name (``"ACSI"``, ``"ECSI"``).
    latents : tuple of str
        The latent variables, in a causal order.
    paths : tuple of (source, target)
        The structural model (acyclic).
    descriptions : dict
        Latent variable -> what its items should measure.
    example_blocks : dict
        Item columns of a public data set that fits the model (for ECSI, the Tenenhaus et
        al. 2005 mobile-phone survey ``mobi``), usable as a template.
    """

    name: str
    latents: tuple[str, ...]
    paths: tuple[tuple[str, str], ...]
    descriptions: Mapping[str, str] = field(default_factory=dict)
    example_blocks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def blocks_template(self) -> dict[str, list[str]]:
        """Return ``{latent: []}`` in model order, to be filled with item column names."""
        return {lv: [] for lv in self.latents}

    def fit(
        self, data: pd.DataFrame, blocks: Mapping[str, Sequence[str] | str], **kwargs: Any
    ) -> PLSPMResult:
        """Fit the model with :func:`retento.analytics.fit_csi`.

        ``blocks`` must name items for every latent of the model and no other latent;
        keyword arguments (``scheme``, ``scaled``, ``modes``, ``scale_range``...) are passed
        on.
        """
        missing = [lv for lv in self.latents if lv not in blocks]
        if missing:
            raise ValueError(f"{self.name} model: no items given for latent(s) {missing}")
        extra = [lv for lv in blocks if lv not in self.latents]
        if extra:
            raise ValueError(f"{self.name} model has no latent(s) {extra}")
        ordered = {lv: blocks[lv] for lv in self.latents}
        return fit_csi(data, ordered, list(self.paths), **kwargs)


ACSI_MODEL = CSIModelSpec(
    name="ACSI",
    latents=("Expectation", "Quality", "Value", "Satisfaction", "Complaints", "Loyalty"),
    paths=(
        ("Expectation", "Quality"),
        ("Expectation", "Value"),
        ("Expectation", "Satisfaction"),
        ("Quality", "Value"),
        ("Quality", "Satisfaction"),
        ("Value", "Satisfaction"),
        ("Satisfaction", "Complaints"),
        ("Satisfaction", "Loyalty"),
        ("Complaints", "Loyalty"),
    ),
    descriptions={
        "Expectation": "customer expectations (overall, customisation, reliability)",
        "Quality": "perceived quality (overall, customisation, reliability)",
        "Value": "perceived value (price given quality, quality given price)",
        "Satisfaction": "overall satisfaction, confirmation of expectations, vs. ideal",
        "Complaints": "customer complaints (formal or informal complaint behaviour)",
        "Loyalty": "repurchase likelihood and price tolerance",
    },
    example_blocks={
        "Expectation": ("CUEX1", "CUEX2", "CUEX3"),
        "Quality": ("PERQ1", "PERQ2", "PERQ3", "PERQ4", "PERQ5", "PERQ6", "PERQ7"),
        "Value": ("PERV1", "PERV2"),
        "Satisfaction": ("CUSA1", "CUSA2", "CUSA3"),
        "Complaints": ("CUSCO",),
        "Loyalty": ("CUSL1", "CUSL2", "CUSL3"),
    },
)
"""The ACSI model of Fornell et al. (1996): expectation, perceived quality and perceived value
drive satisfaction, which drives complaints and loyalty; complaints also affect loyalty."""

ECSI_MODEL = CSIModelSpec(
    name="ECSI",
    latents=(
        "Image",
        "Expectation",
        "Quality",
        "Value",
        "Satisfaction",
        "Complaints",
        "Loyalty",
    ),
    paths=(
        ("Image", "Expectation"),
        ("Image", "Satisfaction"),
        ("Image", "Loyalty"),
        ("Expectation", "Quality"),
        ("Expectation", "Value"),
        ("Expectation", "Satisfaction"),
        ("Quality", "Value"),
        ("Quality", "Satisfaction"),
        ("Value", "Satisfaction"),
        ("Satisfaction", "Complaints"),
        ("Satisfaction", "Loyalty"),
        ("Complaints", "Loyalty"),
    ),
    descriptions={
        "Image": "corporate image (reputation, trust, innovation, social contribution)",
        **ACSI_MODEL.descriptions,
    },
    example_blocks={
        "Image": ("IMAG1", "IMAG2", "IMAG3", "IMAG4", "IMAG5"),
        **ACSI_MODEL.example_blocks,
    },
)
"""The ECSI model as estimated by Tenenhaus et al. (2005) on the mobile-phone data: the ACSI
model plus corporate Image, which drives expectation, satisfaction and loyalty."""
