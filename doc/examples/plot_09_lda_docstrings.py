r"""
Variational LDA on a corpus of docstrings: topics, proportions and learned priors
=================================================================================

Latent Dirichlet allocation (Blei, Ng and Jordan 2003) models each document :math:`d` as
a mixture of :math:`K` topics: topic proportions
:math:`\theta_d \sim \mathrm{Dir}(\alpha)`, topics (distributions over the vocabulary)
:math:`\beta_k \sim \mathrm{Dir}(\eta)`, and for every word a topic
:math:`z_{dn} \sim \mathrm{Cat}(\theta_d)` and a word
:math:`w_{dn} \sim \mathrm{Cat}(\beta_{z_{dn}})`. :class:`skvi.VariationalLDA` fits the
mean-field family :math:`q(\theta_d) = \mathrm{Dir}(\gamma_d)`,
:math:`q(\beta_k) = \mathrm{Dir}(\lambda_k)`, :math:`q(z_{dn}) = \mathrm{Cat}(\phi_{dn})`
by coordinate ascent, with the updates

.. math::

    \phi_{dwk} \propto \exp\big(\mathbb E_q[\ln\theta_{dk}] + \mathbb E_q[\ln\beta_{kw}]\big),
    \qquad \gamma_{dk} = \alpha_k + \sum_w n_{dw}\phi_{dwk},
    \qquad \lambda_{kw} = \eta + \sum_d n_{dw}\phi_{dwk},

where :math:`n_{dw}` is the count of word :math:`w` in document :math:`d` and
:math:`\mathbb E_q[\ln\theta_{dk}] = \psi(\gamma_{dk}) - \psi(\sum_j \gamma_{dj})`. The
estimated proportions of a document are :math:`\gamma_d / \sum_k \gamma_{dk}`
(:meth:`~skvi.VariationalLDA.transform`) and the topics
:math:`\lambda_k / \sum_w \lambda_{kw}`.

The priors :math:`\alpha` and :math:`\eta` can be fixed, or learned by empirical Bayes:
``doc_topic_prior='auto'`` maximises the ELBO over an asymmetric :math:`\alpha` (Minka's
fixed point) and ``topic_word_prior='auto'`` over a symmetric :math:`\eta` (Newton's
method). Learning them can only raise the training ELBO, which bounds
:math:`\ln p(X \mid \alpha, \eta)`; whether it helps on unseen documents is measured by
the held-out perplexity

.. math::

    \mathrm{perplexity}(X_\text{test}) = \exp\Big(-\frac{\mathcal L(X_\text{test})}
    {\sum_{d,w} n_{dw}}\Big),

where :math:`\mathcal L(X_\text{test})` is the ELBO of the test documents with the topics
held at their fitted :math:`q(\beta)` (lower is better).

The corpus is made of the docstrings of the installed NumPy, SciPy and scikit-learn
(:func:`skvi.datasets.load_docstring_counts`; parsed from the source files, nothing
downloaded); 2000 documents drawn with a fixed seed and the 2000 most frequent words keep
this example fast.
"""

# %%
# The corpus and a train/test split
# ---------------------------------
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from skvi import VariationalLDA
from skvi.datasets import load_docstring_counts
from skvi.metrics import perplexity_from_theta

t_start = time.perf_counter()
counts = load_docstring_counts(
    packages=["numpy", "scipy", "sklearn"], max_documents=2000, max_features=2000, random_state=0
)
X, words, source = counts.X, counts.feature_names, np.array(counts.source)
train, test = train_test_split(np.arange(X.shape[0]), test_size=0.2, random_state=0)
X_train, X_test = X[train], X[test]
print(f"{X.shape[0]} documents x {X.shape[1]} words, {int(X.sum())} tokens")
print(f"train {X_train.shape[0]} documents, test {X_test.shape[0]} documents")
print(f"corpus read in {time.perf_counter() - t_start:.1f} s")

# %%
# Fixed against learned priors
# ----------------------------
# Ten topics, 30 passes of batch coordinate ascent, the same seed for every fit. The two
# fixed settings are the default :math:`\alpha = \eta = 1/K` and a sparser
# :math:`\alpha = 0.05, \eta = 0.01`.
K = 10
settings = {
    "fixed: alpha = eta = 1/K": dict(doc_topic_prior=None, topic_word_prior=None),
    "fixed: alpha = 0.05, eta = 0.01": dict(doc_topic_prior=0.05, topic_word_prior=0.01),
    "learned: 'auto'": dict(doc_topic_prior="auto", topic_word_prior="auto"),
}
models = {}
print(f"{'priors':<34}{'train ELBO':>13}{'train perp.':>12}{'test perp.':>12}{'time':>7}")
for name, priors in settings.items():
    t0 = time.perf_counter()
    lda = VariationalLDA(n_components=K, max_iter=30, random_state=0, **priors).fit(X_train)
    elapsed = time.perf_counter() - t0
    models[name] = lda
    print(
        f"{name:<34}{lda.lower_bound_:>13.1f}{lda.bound_:>12.1f}"
        f"{lda.perplexity(X_test):>12.1f}{elapsed:>6.1f}s"
    )

learned = models["learned: 'auto'"]
alpha = np.atleast_1d(learned.doc_topic_prior_)
print(f"learned alpha: {np.array2string(alpha, precision=3)} (sum {alpha.sum():.3f})")
print(f"learned eta: {learned.topic_word_prior_:.4f}")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.8))
for name, lda in models.items():
    ax0.plot(np.arange(1, lda.n_iter_ + 1), lda.lower_bounds_, label=name)
ax0.set(xlabel="pass", ylabel="training ELBO (nats)", title="ELBO per pass")
ax0.set_ylim(min(m.lower_bounds_[2] for m in models.values()), None)
ax0.legend(fontsize=8)
ax1.bar(np.arange(K), alpha, color="C2")
ax1.axhline(1 / K, color="C0", ls="--", label="default fixed 1/K")
ax1.set(xlabel="topic", ylabel=r"$\alpha_k$", title=r"learned asymmetric $\alpha$")
ax1.legend()
fig.tight_layout()

# %%
# Mean-field VB against collapsed VB (CVB0)
# -----------------------------------------
# ``learning_method='cvb0'`` integrates :math:`\theta` and :math:`\beta` out and
# updates one responsibility vector per document-word entry with expected counts
# (Asuncion et al. 2009; :ref:`lda-cvb0`). Its bound is not the quantity it optimises,
# so the comparison is made with the plug-in held-out perplexity of
# :func:`skvi.metrics.perplexity_from_theta`, :math:`\exp(-\sum_{dw} n_{dw} \ln \sum_k
# \hat\theta_{dk} \hat\beta_{kw} / \sum_{dw} n_{dw})`, with :math:`\hat\theta` from
# :meth:`~skvi.VariationalLDA.transform` and the normalised ``components_``, which
# involves neither method's bound. The same default priors :math:`\alpha = \eta = 1/K`.
print(f"{'method':<22}{'passes':>7}{'train ELBO':>13}{'plug-in test perp.':>20}{'time':>7}")
for method, passes in [("batch", 30), ("cvb0", 30), ("cvb0", 60)]:
    t0 = time.perf_counter()
    lda = VariationalLDA(
        n_components=K, learning_method=method, max_iter=passes, random_state=0
    ).fit(X_train)
    elapsed = time.perf_counter() - t0
    plug_in = perplexity_from_theta(lda.transform(X_test), lda.components_, X_test)
    print(f"{method:<22}{passes:>7}{lda.lower_bound_:>13.1f}{plug_in:>20.1f}{elapsed:>6.1f}s")

# %%
# Top words per topic
# -------------------
# The ten words of highest probability :math:`\mathbb E_q[\beta_{kw}]` in each topic of
# the model with learned priors, topics sorted by :math:`\alpha_k` (the larger
# :math:`\alpha_k`, the more documents use the topic).
topics = learned.components_ / learned.components_.sum(axis=1, keepdims=True)
order = np.argsort(alpha)[::-1]
for k in order:
    top = words[np.argsort(topics[k])[::-1][:10]]
    print(f"topic {k} (alpha {alpha[k]:.3f}): {' '.join(top)}")

# %%
# Document-topic proportions
# --------------------------
# :meth:`~skvi.VariationalLDA.transform` gives :math:`\gamma_d / \sum_k \gamma_{dk}` for
# held-out documents. Left: 40 test documents, grouped by the package they come from.
# Right: the mean proportion of each topic among the test documents of each package.
theta = learned.transform(X_test)
test_source = source[test]
packages = ["numpy", "scipy", "sklearn"]
shown = np.concatenate([np.flatnonzero(test_source == p)[:14] for p in packages])[:40]
mean_theta = np.array([theta[test_source == p].mean(axis=0) for p in packages])
for p, m in zip(packages, mean_theta, strict=True):
    print(f"{p:<8} main topics: " + ", ".join(f"{k} ({m[k]:.2f})" for k in np.argsort(m)[::-1][:3]))

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.5), width_ratios=[2, 1])
im = ax0.imshow(theta[shown][:, order].T, aspect="auto", cmap="viridis", vmin=0, vmax=1)
ax0.set_yticks(range(K), [f"topic {k}" for k in order])
ax0.set_xticks(range(len(shown)), test_source[shown], rotation=90, fontsize=7)
ax0.set_title("topic proportions of held-out documents")
fig.colorbar(im, ax=ax0)
ax1.imshow(mean_theta[:, order].T, aspect="auto", cmap="viridis", vmin=0)
ax1.set_xticks(range(len(packages)), packages)
ax1.set_yticks(range(K), [f"topic {k}" for k in order])
ax1.set_title("mean proportion per package")
fig.tight_layout()

# %%
# Reading the results
# -------------------
# Learning the priors always raises the training ELBO (it is maximised over more
# parameters); in the table above it lowers the held-out perplexity too. The learned
# :math:`\alpha` is asymmetric and sums to less than one: most documents use few topics,
# the general topics of argument descriptions get a larger prior weight than the
# specialised ones, which a symmetric prior cannot express. The sparser fixed prior fits
# the training documents worse without gaining on the test documents. These are the
# numbers of this corpus (they depend on the installed package versions); learning
# :math:`\eta` can also overfit the vocabulary of the training documents, and the
# held-out perplexity is the check to make.
#
# In the second table CVB0 reaches a lower plug-in held-out perplexity than batch
# mean-field VB with the same priors, at a similar cost per fit: mean-field updates
# discount every expected count by about half a token
# (:math:`\exp\psi(n + a) \approx n + a - 1/2`), which weighs most on rare words. Its
# training ELBO, which it does not maximise, is nevertheless comparable with batch
# mode's: both are the ELBO of a mean-field distribution.
print(f"total run time {time.perf_counter() - t_start:.1f} s")
plt.show()
