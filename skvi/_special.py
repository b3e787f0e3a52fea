"""Special functions, log-normalisers and KL divergences shared by all skvi models.

The functions the compiled kernels call (digamma, trigamma, the Dirichlet normaliser, the
lgamma increments, ...) are serial nopython kernels compiled with :func:`skvi._jit.jit`,
callable from Python and from inside any other ``@jit`` kernel. The log-normalisers and KL
divergences of the mixture's factors (Beta, Gamma, Wishart, Dirichlet), which run a few
times per sweep on arrays of parameters, are plain NumPy/SciPy, elementwise over broadcast
arguments, and are not compiled. All arithmetic is done in float64.

Equation numbers refer to Appendix B of C. M. Bishop, *Pattern Recognition and Machine
Learning* (Springer, 2006), abbreviated PRML.

Parameterisations
-----------------
``Beta(mu | a, b)``
    ``Gamma(a + b) / (Gamma(a) Gamma(b)) mu^(a-1) (1-mu)^(b-1)`` (PRML B.6).
``Dir(mu | alpha)``
    ``C(alpha) prod_k mu_k^(alpha_k - 1)`` (PRML B.16, B.23).
``Gam(tau | a, b)``
    ``b^a tau^(a-1) exp(-b tau) / Gamma(a)`` with *rate* ``b`` (PRML B.26).
``W(Lambda | W, nu)``
    ``B(W, nu) |Lambda|^((nu-D-1)/2) exp(-tr(W^-1 Lambda) / 2)`` (PRML B.78, B.79).
    Wishart functions take ``ln|W|`` (``log_det_scale``) rather than ``W`` itself, so the
    caller computes the determinant once, typically with :func:`cholesky_log_det`.
"""

import math

import numpy as np
from scipy.special import digamma as sp_digamma
from scipy.special import gammaln, zeta

from ._jit import jit

# Coefficients B_2k / (2k) of the asymptotic expansion
#   psi(x) ~ ln x - 1/(2x) - sum_k B_2k / (2k x^2k),
# for k = 1..7 (B_2 = 1/6, B_4 = -1/30, B_6 = 1/42, B_8 = -1/30, B_10 = 5/66,
# B_12 = -691/2730, B_14 = 7/6).
_C1 = 1.0 / 12.0
_C2 = -1.0 / 120.0
_C3 = 1.0 / 252.0
_C4 = -1.0 / 240.0
_C5 = 1.0 / 132.0
_C6 = -691.0 / 32760.0
_C7 = 1.0 / 12.0

#: The asymptotic series is used for x >= _ASYMPTOTIC_MIN. At x = 10 the first omitted
#: term, |B_16| / (16 x^16) ~ 4.4e-17, is below half an ulp of psi(10) ~ 2.25; shifting
#: only to x >= 6 would leave an error of order 1e-13 whatever the number of terms.
_ASYMPTOTIC_MIN = 10.0

#: Double nearest to the positive zero x0 = 1.46163214496836234126... of psi.
_ROOT = 1.4616321449683622
#: psi(_ROOT) (not exactly 0 because _ROOT is rounded).
_ROOT_VALUE = -9.241265521729427e-17
#: Taylor coefficients of psi about _ROOT: psi^(k)(_ROOT) / k! = (-1)^(k+1) zeta(k+1, _ROOT)
#: (Hurwitz zeta), k = 1..16, computed with mpmath at 50 digits.
_ROOT_SERIES = np.array(
    [
        0.9676722454476212,
        -0.4427631689835922,
        0.2584997609556511,
        -0.16394270544240658,
        0.10782405069126241,
        -0.07219956125645474,
        0.04880428816414313,
        -0.033161126474847376,
        0.022597648232218118,
        -0.01542476590494897,
        0.010538791616612184,
        -0.007204534386356875,
        0.004926781395729858,
        -0.0033698016554393312,
        0.00230512632673493,
        -0.001576936771430199,
    ]
)
#: Half-width of the interval around _ROOT where the Taylor series is used. At |t| = 0.1
#: the first omitted term is ~1e-20, while psi(_ROOT +- 0.1) ~ +-0.1.
_ROOT_HALF_WIDTH = 0.1


@jit
def _digamma_positive(x):
    """psi(x) for finite x > 0 (Taylor series near x0, else recurrence + asymptotics)."""
    t = x - _ROOT  # exact (Sterbenz) in the window below
    if abs(t) < _ROOT_HALF_WIDTH:
        # Near the zero, the recurrence + asymptotic series would return psi(x) ~ 0 as a
        # difference of O(1) numbers: fine in absolute terms but with a relative error up
        # to ~1e-12. The Taylor series keeps the relative error at the ulp level.
        acc = 0.0
        for k in range(_ROOT_SERIES.shape[0] - 1, -1, -1):
            acc = acc * t + _ROOT_SERIES[k]
        return _ROOT_VALUE + acc * t
    # psi(x) = psi(x + n) - sum_{k=0}^{n-1} 1 / (x + k). The terms are summed from the
    # smallest up and x + k is formed directly from x, so for tiny x the dominant -1/x is
    # added last and carries a single rounding.
    n = 0
    if x < _ASYMPTOTIC_MIN:
        n = int(np.ceil(_ASYMPTOTIC_MIN - x))
    shift = 0.0
    for k in range(n - 1, -1, -1):
        shift += 1.0 / (x + k)
    y = x + n
    z = 1.0 / (y * y)
    series = z * (_C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * (_C6 + z * _C7))))))
    return (math.log(y) - 0.5 / y - series) - shift


@jit
def digamma(x):
    r"""Digamma function :math:`\psi(x) = \frac{d}{dx} \ln \Gamma(x)` (PRML B.25).

    For ``x > 0`` the recurrence :math:`\psi(x) = \psi(x + 1) - 1/x` shifts the argument
    to ``y = x + n >= 10``, where the asymptotic series

    .. math::

        \psi(y) \simeq \ln y - \frac{1}{2y} - \sum_{k=1}^{7} \frac{B_{2k}}{2k\, y^{2k}}

    (:math:`B_{2k}` the Bernoulli numbers) is accurate to well below one ulp. Within 0.1
    of the positive zero :math:`x_0 \approx 1.4616` of :math:`\psi`, a Taylor series about
    :math:`x_0` (coefficients :math:`(-1)^{k+1}\zeta(k+1, x_0)`, Hurwitz zeta) is used
    instead, so that the relative error stays small where :math:`\psi(x) \to 0`. For negative
    non-integers the reflection formula :math:`\psi(x) = \psi(1 - x) - \pi / \tan(\pi x)`
    is used, with :math:`\tan(\pi x)` evaluated on the exactly reduced argument
    :math:`x - \mathrm{round}(x)`.

    Parameters
    ----------
    x : float
        Argument (Python or NumPy scalar, int or float).

    Returns
    -------
    float
        :math:`\psi(x)`. ``nan`` for ``nan``, ``-inf`` and non-positive integers (including
        ``0.0`` and ``-0.0``; note that :func:`scipy.special.digamma` returns the one-sided
        limits ``-inf`` at ``+0.0`` and ``+inf`` at ``-0.0`` instead); ``+inf`` for
        ``+inf``. For ``x > 0`` the relative error is about 1e-15, including around the
        zero :math:`x_0 \approx 1.4616` of :math:`\psi`, where a Taylor series about
        :math:`x_0` is used. For ``x < 0`` the error is about 1e-15 in
        :math:`\max(1, |\psi(x)|)` units, i.e. relative error grows near the zeros of
        :math:`\psi` between consecutive poles.
    """
    x = float(x)
    if x != x:
        return np.nan
    if x > 0.0:
        if x == np.inf:
            return np.inf
        return _digamma_positive(x)
    n = np.rint(x)
    if x == n:  # 0, -0, negative integers and -inf: poles
        return np.nan
    # Reflection. With n the integer nearest to x, r = x - n in [-1/2, 1/2] is computed
    # exactly (r = x when |x| < 1/2; otherwise x and n are multiples of ulp(x) and
    # |r| <= |x|), and tan(pi x) = tan(pi r). Reducing with floor(x) instead would round
    # x + 1 for tiny negative x and lose all relative accuracy of pi / tan(pi x) ~ 1/x.
    r = x - n
    return _digamma_positive(1.0 - x) - math.pi / math.tan(math.pi * r)


@jit
def digamma_array(x):
    r"""Elementwise :func:`digamma` over an array of any shape.

    Parameters
    ----------
    x : ndarray
        Array of any shape, memory layout and real dtype.

    Returns
    -------
    ndarray of float64
        :math:`\psi(x)` elementwise, with the shape of ``x``.
    """
    out = np.empty(x.size, dtype=np.float64)
    i = 0
    for v in x.flat:  # C (row-major) index order whatever the memory layout
        out[i] = digamma(v)
        i += 1
    return out.reshape(x.shape)


@jit
def log_dirichlet_norm(alpha):
    r"""Log normaliser of a Dirichlet distribution (PRML B.23).

    .. math::

        \ln C(\boldsymbol\alpha) = \ln\Gamma(\hat\alpha) - \sum_k \ln\Gamma(\alpha_k),
        \qquad \hat\alpha = \sum_k \alpha_k .

    Parameters
    ----------
    alpha : ndarray of shape (n_components,)
        Concentration parameters, all > 0.

    Returns
    -------
    float
        :math:`\ln C(\boldsymbol\alpha)`.
    """
    total = 0.0
    lg = 0.0
    for k in range(alpha.shape[0]):
        a = float(alpha[k])
        total += a
        lg += math.lgamma(a)
    return math.lgamma(total) - lg


# ------------------------------------ log-normalisers and KL divergences (NumPy/SciPy)
# These run a few times per sweep on arrays of K (or K x d) parameters: they are plain
# NumPy/SciPy, elementwise over broadcast arguments, and need no compilation.


def log_beta_norm(a, b):
    r"""Log normaliser of a Beta distribution (PRML B.6), elementwise.

    .. math::

        \ln \frac{\Gamma(a + b)}{\Gamma(a)\Gamma(b)} = -\ln \mathrm{B}(a, b).

    Parameters
    ----------
    a, b : float or ndarray
        Shape parameters, > 0 (broadcast together).

    Returns
    -------
    float or ndarray
    """
    return gammaln(a + b) - gammaln(a) - gammaln(b)


def log_gamma_norm(shape, rate):
    r"""Log normaliser of a Gamma distribution in the rate parameterisation (PRML B.26),
    elementwise: :math:`\ln \frac{b^a}{\Gamma(a)} = a \ln b - \ln\Gamma(a)` for shape
    :math:`a > 0` and rate :math:`b > 0` (float or ndarray, broadcast together)."""
    return shape * np.log(rate) - gammaln(shape)


def _half_dofs(dof, n_features):
    """``(nu - (i - 1)) / 2`` for ``i = 1..D``, on a last axis (``nu + 1 - i`` would round
    away the low bits of a small ``nu``; lgamma and digamma are ill-conditioned near 0)."""
    return 0.5 * (np.asarray(dof, dtype=np.float64)[..., None] - np.arange(n_features))


def log_wishart_norm(log_det_scale, dof, n_features):
    r"""Log normaliser :math:`\ln B(\mathbf W, \nu)` of a Wishart distribution (PRML B.79).

    .. math::

        \ln B(\mathbf W, \nu) = -\frac{\nu}{2} \ln|\mathbf W| - \frac{\nu D}{2} \ln 2
            - \frac{D(D-1)}{4} \ln\pi - \sum_{i=1}^{D} \ln\Gamma\left(\frac{\nu + 1 - i}{2}
            \right).

    Parameters
    ----------
    log_det_scale : float or ndarray
        :math:`\ln|\mathbf W|` of the scale matrix (or of each one).
    dof : float or ndarray
        Degrees of freedom :math:`\nu > D - 1` (broadcast with ``log_det_scale``).
    n_features : int
        Dimension :math:`D`.

    Returns
    -------
    float or ndarray
        :math:`\ln B(\mathbf W, \nu)`.
    """
    d = float(n_features)
    out = -0.5 * dof * log_det_scale - 0.5 * dof * d * math.log(2.0)
    out = out - 0.25 * d * (d - 1.0) * math.log(math.pi)
    return out - gammaln(_half_dofs(dof, n_features)).sum(axis=-1)


def expected_log_det_wishart(log_det_scale, dof, n_features):
    r"""Expected log-determinant of a Wishart-distributed matrix (PRML B.81).

    .. math::

        \mathbb E[\ln|\boldsymbol\Lambda|] = \sum_{i=1}^{D} \psi\left(\frac{\nu + 1 - i}{2}
            \right) + D \ln 2 + \ln|\mathbf W| .

    Parameters
    ----------
    log_det_scale : float or ndarray
        :math:`\ln|\mathbf W|` of the scale matrix (or of each one).
    dof : float or ndarray
        Degrees of freedom :math:`\nu > D - 1` (broadcast with ``log_det_scale``).
    n_features : int
        Dimension :math:`D`.

    Returns
    -------
    float or ndarray
        :math:`\mathbb E[\ln|\boldsymbol\Lambda|]` under
        :math:`\mathcal W(\boldsymbol\Lambda | \mathbf W, \nu)`.
    """
    psi = sp_digamma(_half_dofs(dof, n_features)).sum(axis=-1)
    return (float(n_features) * math.log(2.0) + log_det_scale) + psi


def kl_dirichlet(alpha_q, alpha_p):
    r"""KL divergence between two Dirichlet distributions (over the last axis).

    Using :math:`\mathbb E_q[\ln\mu_k] = \psi(\alpha_{q,k}) - \psi(\hat\alpha_q)` (PRML
    B.21):

    .. math::

        \mathrm{KL}(\mathrm{Dir}(\boldsymbol\alpha_q) \| \mathrm{Dir}(\boldsymbol\alpha_p))
            = \ln C(\boldsymbol\alpha_q) - \ln C(\boldsymbol\alpha_p)
            + \sum_k (\alpha_{q,k} - \alpha_{p,k}) \left(\psi(\alpha_{q,k})
            - \psi(\hat\alpha_q)\right),

    with :math:`\ln C(\boldsymbol\alpha) = \ln\Gamma(\hat\alpha) - \sum_k\ln\Gamma(\alpha_k)`
    (PRML B.23).

    Parameters
    ----------
    alpha_q, alpha_p : ndarray of shape (..., n_components)
        Concentration parameters of :math:`q` and :math:`p`, all > 0.

    Returns
    -------
    float or ndarray of shape (...)
        :math:`\mathrm{KL}(q \| p) \ge 0`.
    """
    alpha_q = np.asarray(alpha_q, dtype=np.float64)
    alpha_p = np.asarray(alpha_p, dtype=np.float64)
    total_q = alpha_q.sum(axis=-1)
    log_norm_q = gammaln(total_q) - gammaln(alpha_q).sum(axis=-1)
    log_norm_p = gammaln(alpha_p.sum(axis=-1)) - gammaln(alpha_p).sum(axis=-1)
    e_log = sp_digamma(alpha_q) - sp_digamma(total_q)[..., None]
    return log_norm_q - log_norm_p + ((alpha_q - alpha_p) * e_log).sum(axis=-1)


def kl_beta(a_q, b_q, a_p, b_p):
    r"""KL divergence between two Beta distributions, elementwise.

    .. math::

        \mathrm{KL}(\mathrm{Beta}(a_q, b_q) \| \mathrm{Beta}(a_p, b_p))
            = \ln\frac{\mathrm B(a_p, b_p)}{\mathrm B(a_q, b_q)}
            + (a_q - a_p)\left(\psi(a_q) - \psi(a_q + b_q)\right)
            + (b_q - b_p)\left(\psi(b_q) - \psi(a_q + b_q)\right).

    This is :func:`kl_dirichlet` with two components.

    Parameters
    ----------
    a_q, b_q, a_p, b_p : float or ndarray
        Shape parameters of :math:`q` and :math:`p`, > 0 (broadcast together).

    Returns
    -------
    float or ndarray
        :math:`\mathrm{KL}(q \| p) \ge 0`.
    """
    psi_total = sp_digamma(a_q + b_q)
    return (
        log_beta_norm(a_q, b_q)
        - log_beta_norm(a_p, b_p)
        + (a_q - a_p) * (sp_digamma(a_q) - psi_total)
        + (b_q - b_p) * (sp_digamma(b_q) - psi_total)
    )


def kl_gamma(shape_q, rate_q, shape_p, rate_p):
    r"""KL divergence between two Gamma distributions (rate parameterisation), elementwise.

    With :math:`\mathbb E_q[\ln\tau] = \psi(a_q) - \ln b_q` (PRML B.30) and
    :math:`\mathbb E_q[\tau] = a_q / b_q`:

    .. math::

        \mathrm{KL}(\mathrm{Gam}(a_q, b_q) \| \mathrm{Gam}(a_p, b_p))
            = \ln\frac{b_q^{a_q}}{\Gamma(a_q)} - \ln\frac{b_p^{a_p}}{\Gamma(a_p)}
            + (a_q - a_p)\left(\psi(a_q) - \ln b_q\right) - (b_q - b_p)\frac{a_q}{b_q} .

    Parameters
    ----------
    shape_q, rate_q, shape_p, rate_p : float or ndarray
        Shapes and rates of :math:`q` and :math:`p`, > 0 (broadcast together).

    Returns
    -------
    float or ndarray
        :math:`\mathrm{KL}(q \| p) \ge 0`.
    """
    return (
        log_gamma_norm(shape_q, rate_q)
        - log_gamma_norm(shape_p, rate_p)
        + (shape_q - shape_p) * (sp_digamma(shape_q) - np.log(rate_q))
        - (rate_q - rate_p) * (shape_q / rate_q)
    )


def kl_wishart(log_det_scale_q, dof_q, log_det_scale_p, dof_p, trace_term, n_features):
    r"""KL divergence between two Wishart distributions, elementwise over its arguments.

    With :math:`\mathbb E_q[\mathrm{tr}(\mathbf W_p^{-1}\boldsymbol\Lambda)]
    = \nu_q \mathrm{tr}(\mathbf W_p^{-1}\mathbf W_q)` and
    :math:`\mathbb E_q[\ln|\boldsymbol\Lambda|]` from PRML B.81:

    .. math::

        \mathrm{KL}(\mathcal W(\mathbf W_q, \nu_q) \| \mathcal W(\mathbf W_p, \nu_p))
            = \ln B(\mathbf W_q, \nu_q) - \ln B(\mathbf W_p, \nu_p)
            + \frac{\nu_q - \nu_p}{2} \mathbb E_q[\ln|\boldsymbol\Lambda|]
            - \frac{\nu_q D}{2} + \frac{\nu_q}{2} \mathrm{tr}(\mathbf W_p^{-1}\mathbf W_q).

    Parameters
    ----------
    log_det_scale_q : float or ndarray
        :math:`\ln|\mathbf W_q|`.
    dof_q : float or ndarray
        :math:`\nu_q > D - 1`.
    log_det_scale_p : float or ndarray
        :math:`\ln|\mathbf W_p|`.
    dof_p : float or ndarray
        :math:`\nu_p > D - 1`.
    trace_term : float or ndarray
        :math:`\mathrm{tr}(\mathbf W_p^{-1}\mathbf W_q)`.
    n_features : int
        Dimension :math:`D`.

    Returns
    -------
    float or ndarray
        :math:`\mathrm{KL}(q \| p) \ge 0`.
    """
    d = float(n_features)
    e_log_det = expected_log_det_wishart(log_det_scale_q, dof_q, n_features)
    return (
        log_wishart_norm(log_det_scale_q, dof_q, n_features)
        - log_wishart_norm(log_det_scale_p, dof_p, n_features)
        + 0.5 * (dof_q - dof_p) * e_log_det
        - 0.5 * dof_q * d
        + 0.5 * dof_q * trace_term
    )


def cholesky_log_det(chol):
    r"""Log-determinant of a matrix from its (lower or upper) Cholesky factor.

    For :math:`\mathbf A = \mathbf L \mathbf L^\top`:

    .. math::

        \ln|\mathbf A| = 2 \sum_i \ln L_{ii} .

    Plain NumPy (it runs a few times per sweep, on ``K`` factors at most).

    Parameters
    ----------
    chol : ndarray of shape (..., n_features, n_features)
        Triangular Cholesky factor with positive diagonal, or a stack of them.

    Returns
    -------
    float or ndarray of shape (...)
        :math:`\ln|\mathbf A|` of each factor.
    """
    return 2.0 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)


@jit
def trigamma(x):
    r"""Trigamma :math:`\psi'(x)` for :math:`x > 0` (recurrence, then the asymptotic series
    :math:`\psi'(x) \sim 1/x + 1/(2x^2) + \sum_k B_{2k}/x^{2k+1}`)."""
    x = float(x)
    out = 0.0
    while x < 10.0:
        out += 1.0 / (x * x)
        x += 1.0
    inv = 1.0 / x
    inv2 = inv * inv
    # B_2 .. B_14: 1/6, -1/30, 1/42, -1/30, 5/66, -691/2730, 7/6
    series = inv2 * (
        1.0 / 6.0
        - inv2
        * (
            1.0 / 30.0
            - inv2
            * (
                1.0 / 42.0
                - inv2
                * (1.0 / 30.0 - inv2 * (5.0 / 66.0 - inv2 * (691.0 / 2730.0 - inv2 * 7.0 / 6.0)))
            )
        )
    )
    return out + inv + 0.5 * inv2 + inv * series


@jit
def inverse_digamma(y):
    r"""The :math:`x > 0` with :math:`\psi(x) = y`, by Newton's method (Minka 2000,
    "Estimating a Dirichlet distribution", appendix C): start at :math:`e^{y} + 1/2` for
    :math:`y \ge -2.22`, else :math:`-1/(y - \psi(1))`, then
    :math:`x \leftarrow x - (\psi(x) - y)/\psi'(x)` until the step is below 1e-14
    relative."""
    y = float(y)
    if y >= -2.22:
        x = math.exp(y) + 0.5
    else:
        x = -1.0 / (y + 0.5772156649015329)
    for _ in range(100):
        step = (digamma(x) - y) / trigamma(x)
        x_new = x - step
        if x_new <= 0.0:
            x_new = 0.5 * x
        if abs(x_new - x) <= 1e-14 * x:
            return x_new
        x = x_new
    return x


#: :func:`exp_digamma_fast` steps its argument up by this much before the asymptotic series.
_FAST_SHIFT = 6.0


@jit
def exp_digamma_fast(x, out):
    r"""``out[k] = exp(psi(x[k]) + c)`` for a common ``c`` (the smallest ``R_k`` below):
    the exponentials of the digamma function up to one factor, cheaply (LDA's fixed
    point, where the factor cancels, calls it once per document and sweep).

    ``psi(x) = ln y - R(x)`` with ``y = x + 6``, where ``R(x) = sum_{i<6} 1 / (x + i) +
    1 / (2y) + sum_{j=1}^{7} B_2j / (2j y^2j)`` is the recurrence to ``y >= 6`` and the
    asymptotic series there: the series' truncation error is below 2e-13 (against ~1e-16
    for :func:`digamma`, which steps to ``x >= 10`` one step at a time, with branches);
    for ``x < 1`` the rounding of ``R``, which holds ``1/x``, adds a few ulps of
    ``|psi(x)|``. The six reciprocals are summed as two rational terms, ``sum_{i<3} 1 /
    (x + i) = q'(x) / q(x)`` with ``q(x) = x (x + 1) (x + 2)``, so each entry costs two
    divisions and one exponential: ``out[k] = y_k exp(min R - R_k)``. Entries above 1e50
    are reduced to 1e50 inside the reciprocals (which are then below 1e-49) so that
    ``q(a) q(b)`` cannot overflow.

    Parameters
    ----------
    x : ndarray of shape (n,)
        Positive finite values.
    out : ndarray of shape (n,)
        Receives the result (the largest entry is at least 6).
    """
    n_comp = x.shape[0]
    least = np.inf
    for k in range(n_comp):
        v = x[k]
        r = 1.0 / (v + _FAST_SHIFT)
        r2 = r * r
        series = r2 * (1.0 / 12 + r2 * (-1.0 / 120 + r2 * (1.0 / 252 + r2 * (-1.0 / 240 + r2 * (
            1.0 / 132 + r2 * (-691.0 / 32760 + r2 / 12))))))  # fmt: skip
        a = min(v, 1e50)  # beyond, the reciprocals are below 1e-49 and q(a) q(b) would overflow
        b = a + 3.0
        qa = a * (a * (a + 3.0) + 2.0)
        qb = b * (b * (b + 3.0) + 2.0)
        pa = a * (3.0 * a + 6.0) + 2.0
        pb = b * (3.0 * b + 6.0) + 2.0
        out[k] = (pa * qb + pb * qa) / (qa * qb) + 0.5 * r + series
    for k in range(n_comp):  # apart, so that the loop above vectorises
        least = min(least, out[k])
    for k in range(n_comp):
        out[k] = (x[k] + _FAST_SHIFT) * math.exp(least - out[k])


# ------------------------------------- increments of lgamma (Dirichlet KL from its prior)
#: :func:`lgamma_increment` uses its two-term Taylor series when ``|d| <= x *
#: TAYLOR_INCREMENT`` (remainder at most ``5e-13 |d| max(1, 1/x)``).
TAYLOR_INCREMENT = 1e-6


@jit
def lgamma_increment(x, d, y, lgamma_x, psi_x, x_trigamma_x):
    """``lgamma(y) - lgamma(x)`` for ``x > 0``, ``y > 0``, given ``d = y - x`` (as
    precisely as the caller knows it), ``lgamma(x)``, ``psi(x)`` and ``x psi'(x)`` (finite
    where ``psi'(x)`` itself overflows, below ``x = 1e-154``).

    For ``|d| <= TAYLOR_INCREMENT x`` the Taylor series ``d psi(x) + d^2 psi'(x) / 2``,
    whose remainder ``|d|^3 |psi''(xi)| / 6`` is at most ``|d| (d/x)^2 max(1, 1/x) / 2``
    (``|psi''(x)| <= 2/x^3 + 1/x^2``); otherwise the difference of the two log-gammas,
    whose rounding error ``eps (|lgamma(x)| + |lgamma(y)|)`` is then small against
    ``|d|`` unless ``x`` is tiny. The series keeps a Dirichlet's KL from its prior
    accurate to the size of the data that moved it: written with the two normalisers,
    the KL loses ``eps |lgamma(x)|`` to cancellation whatever the data, which swamps
    the bound of a corpus whose counts are tiny against the priors (counts of 1e-300, or
    ``topic_word_prior=1e300``).
    """
    if d == 0.0:
        return 0.0
    if abs(d) <= TAYLOR_INCREMENT * x:
        return d * (psi_x + 0.5 * (d / x) * x_trigamma_x)
    return math.lgamma(y) - lgamma_x


def increment_table(x):
    """``(lgamma(x), psi(x), x psi'(x))`` for each entry of ``x`` (> 0), as rows of a (n, 3)
    array: what :func:`lgamma_increment` takes from its base point. SciPy (a few entries
    per call need no compiling); ``x psi'(x)`` is computed as ``1/x + x psi'(x + 1)``,
    finite for every positive ``x``, with ``psi'(y) = zeta(2, y)`` (Hurwitz)."""
    x = np.asarray(x, dtype=np.float64)
    return np.stack([gammaln(x), sp_digamma(x), 1.0 / x + x * zeta(2.0, x + 1.0)], axis=1)


@jit
def dirichlet_kl_from_prior(prior, prior_table, total, total_row, posterior, e_log):
    """``KL(Dir(posterior) || Dir(prior))`` written as increments from the prior,

        sum_k s_k E[ln x_k] - sum_k Delta(prior_k, s_k) + Delta(sum prior, sum s),

    with ``s = posterior - prior``, ``E[ln x] = e_log`` (under the posterior) and
    ``Delta(x, d) = lgamma(x + d) - lgamma(x)`` (:func:`lgamma_increment`). ``prior``
    may be a single value (a symmetric prior) or one value per entry; ``prior_table``
    holds the matching rows of :func:`increment_table`, ``total_row`` that of ``total``
    (``sum prior``, as the caller computed it). The result is exactly 0 when the
    posterior equals the prior and is accurate to the size of ``s``, not to that of the
    normalisers (PRML B.23 for the KL).
    """
    n = posterior.shape[0]
    symmetric = prior.shape[0] == 1
    moved = 0.0
    mass = 0.0
    value = 0.0
    for i in range(n):
        j = 0 if symmetric else i
        a = prior[j]
        b = posterior[i]
        s = b - a
        moved += s
        mass += b
        row = prior_table[j]
        value += s * e_log[i] - lgamma_increment(a, s, b, row[0], row[1], row[2])
    row = total_row
    return value + lgamma_increment(total, moved, mass, row[0], row[1], row[2])


# ------------------------------------------- Gamma terms without cancellation
#: Above this argument the Stirling series below are used (their first omitted term is
#: below 1e-16 relative there).
_STIRLING_MIN = 30.0


def stirling_remainder(x):
    r""":math:`\varphi(x) = \ln\Gamma(x) - (x - \tfrac12)\ln x + x - \tfrac12\ln 2\pi`
    (about :math:`1/(12x)`), from its asymptotic series for :math:`x \ge 30` and from
    ``gammaln`` below, elementwise."""
    x = np.asarray(x, dtype=np.float64)
    big = x >= _STIRLING_MIN
    xb = np.where(big, x, _STIRLING_MIN)
    z = 1.0 / (xb * xb)
    series = (1.0 / 12.0 - z * (1.0 / 360.0 - z * (1.0 / 1260.0 - z / 1680.0))) / xb
    xs = np.where(big, 1.0, x)
    direct = gammaln(xs) - (xs - 0.5) * np.log(xs) + xs - 0.5 * math.log(2.0 * math.pi)
    return np.where(big, series, direct)


def expm1_minus(t):
    r""":math:`e^t - 1 - t \ge 0` to full relative accuracy (Taylor series for
    :math:`|t| < 0.25`), elementwise."""
    t = np.asarray(t, dtype=np.float64)
    small = np.abs(t) < 0.25
    ts = np.where(small, t, 0.0)
    term, series = ts * ts / 2.0, np.zeros_like(ts)
    for k in range(3, 16):
        series = series + term
        term = term * ts / k
    with np.errstate(over="ignore"):
        return np.where(small, series, np.expm1(np.where(small, 0.0, t)) - t)


def log_gamma_ratio(a, c):
    r""":math:`\ln\Gamma(a + c) - \ln\Gamma(a)` for :math:`a > 0, c \ge 0`, without the
    cancellation of two large log-gamma values when :math:`a` is large:
    :math:`(a - \tfrac12)\ln(1 + c/a) + c\ln(a + c) - c + \varphi(a + c) - \varphi(a)`."""
    a, c = float(a), float(c)
    A = a + c
    if a < _STIRLING_MIN:
        return float(gammaln(A) - gammaln(a))
    return float(
        (a - 0.5) * math.log1p(c / a) + c * math.log(A) - c
        + stirling_remainder(A) - stirling_remainder(a)
    )  # fmt: skip


__all__ = [
    "cholesky_log_det",
    "digamma",
    "digamma_array",
    "dirichlet_kl_from_prior",
    "exp_digamma_fast",
    "expected_log_det_wishart",
    "expm1_minus",
    "increment_table",
    "inverse_digamma",
    "kl_beta",
    "kl_dirichlet",
    "kl_gamma",
    "kl_wishart",
    "lgamma_increment",
    "log_beta_norm",
    "log_dirichlet_norm",
    "log_gamma_norm",
    "log_gamma_ratio",
    "log_wishart_norm",
    "stirling_remainder",
    "trigamma",
]
