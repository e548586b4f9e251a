r"""PLS path modelling (PLS-PM) for customer-satisfaction index models.

This module implements Wold's partial least squares path modelling algorithm as it is
formalised by Lohmöller (1989) and described by Tenenhaus, Esposito Vinzi, Chatelin & Lauro
(2005), with the numerical conventions of R's ``plspm`` package (Sanchez 2013), so that the
results can be compared with published R output digit for digit. On top of the estimator it
provides the ACSI-style 0--100 satisfaction indices (Fornell et al. 1996), bootstrap
confidence intervals and an importance--performance (driver) matrix.

Model
-----
There are :math:`J` latent variables (LVs) :math:`\xi_j`, each measured by a block of
manifest variables (MVs) :math:`x_{jh}`, :math:`h = 1..p_j`.  The *inner* (structural) model is
a recursive system of linear regressions

.. math:: \xi_j = \sum_{i \to j} \beta_{ij} \xi_i + \zeta_j,

and the *outer* (measurement) model is either reflective (Mode A,
:math:`x_{jh} = \lambda_{jh} \xi_j + \epsilon_{jh}`) or formative (Mode B,
:math:`\xi_j = \sum_h w_{jh} x_{jh} + \delta_j`).

Algorithm (stage 1, iterative outer weights)
--------------------------------------------
The MVs are centred; with ``scaled=True`` they are also divided by their *population*
standard deviation (divisor :math:`n`, as in R ``plspm``).  Starting from unit weights, repeat

1. outer estimation: :math:`Y_j = X_j w_j`, standardised to zero mean and unit population
   variance;
2. inner estimation: :math:`Z_j = \sum_{i \ne j} e_{ij} Y_i` over the LVs adjacent to
   :math:`j`, with inner weights

   * centroid: :math:`e_{ij} = \operatorname{sign} \operatorname{cor}(Y_i, Y_j)`;
   * factorial: :math:`e_{ij} = \operatorname{cor}(Y_i, Y_j)`;
   * path: for predecessors :math:`i \to j` the coefficients of the multiple regression of
     :math:`Y_j` on its predecessors, for successors :math:`j \to i` the correlation
     :math:`\operatorname{cor}(Y_i, Y_j)`;
3. new outer weights: Mode A :math:`w_{jh} = \frac{1}{n} x_{jh}^\top Z_j` (covariance),
   Mode B :math:`w_j = (X_j^\top X_j)^{-1} X_j^\top Z_j` (regression);

until :math:`\sum_{jh} (|w^{old}_{jh}| - |w^{new}_{jh}|)^2 < 10^{-6}` or 100 iterations.  The
final weights are rescaled so that each LV score :math:`\hat\xi_j = X_j w_j` has unit population
variance.  No sign flipping is applied (R ``plspm`` convention): unit starting weights orient
each LV with the majority of its items.

Stage 2 and 3
-------------
Path coefficients are the ordinary least-squares regressions of each endogenous LV score on
the scores of its predecessors; loadings are :math:`\lambda_{jh} = \operatorname{cor}(x_{jh},
\hat\xi_j)`, communalities :math:`\lambda_{jh}^2`, redundancies :math:`\lambda_{jh}^2 R^2_j`,
and the goodness of fit (Tenenhaus et al. 2005) is

.. math:: \mathrm{GoF} = \sqrt{\overline{\lambda^2}\;\overline{R^2}},

where :math:`\overline{\lambda^2}` is the mean communality over all MVs of blocks with more than
one MV and :math:`\overline{R^2}` the mean :math:`R^2` of the endogenous LVs.  When every block
has a single MV there is no communality to average and the GoF is undefined: ``gof`` is NaN
(R ``plspm`` computes 0/0 there too).  The other undefined quantities are the AVE of Mode B
blocks and the 0--100 index of a block whose index weights sum to zero (with a warning); all
are NaN, never a made-up number.

Package layout
--------------
:mod:`retento.analytics.pls.spec` checks and normalises a model (blocks, paths, modes),
:mod:`retento.analytics.pls.core` is the estimator on plain arrays (outer weights, paths,
loadings, and the 0--100 index weights), :mod:`retento.analytics.pls.result` holds
:class:`PLSPMResult` and assembles its tables from an estimate,
:mod:`retento.analytics.pls.bootstrap` resamples a fitted model into a
:class:`BootstrapResult`, and :mod:`retento.analytics.pls.fit` is the public entry point
(:func:`fit_csi`, :func:`fit_csi_higher_order`).

References
----------
.. [1] Wold, H. (1982). Soft modeling: the basic design and some extensions. In K. G.
   Jöreskog & H. Wold (Eds.), *Systems under indirect observation*, Part II, 1--54.
   North-Holland.
.. [2] Lohmöller, J.-B. (1989). *Latent Variable Path Modeling with Partial Least Squares*.
   Physica-Verlag.
.. [3] Tenenhaus, M., Esposito Vinzi, V., Chatelin, Y.-M., & Lauro, C. (2005). PLS path
   modeling. *Computational Statistics & Data Analysis*, 48(1), 159--205.
.. [4] Fornell, C., Johnson, M. D., Anderson, E. W., Cha, J., & Bryant, B. E. (1996). The
   American Customer Satisfaction Index: nature, purpose, and findings. *Journal of
   Marketing*, 60(4), 7--18.
.. [5] Sanchez, G. (2013). *PLS Path Modeling with R*. Trowchez Editions, Berkeley.
"""

from __future__ import annotations

from retento.analytics.pls.bootstrap import BootstrapResult
from retento.analytics.pls.fit import fit_csi, fit_csi_higher_order
from retento.analytics.pls.result import PLSPMResult

__all__ = [
    "BootstrapResult",
    "PLSPMResult",
    "fit_csi",
    "fit_csi_higher_order",
]
