"""W3 — logistic regression: mean log-loss of a linear model, with a matrix-vector product."""

import numba
import numpy as np

from benchmarks import peers
from benchmarks.peers import ToolSpec
from benchmarks.workloads import Case


def logreg_loss(w, X, y):
    """Mean log-loss log(1 + exp(−y·Xw)) for labels y ∈ {−1, +1}."""
    return np.mean(np.log(1.0 + np.exp(-y * (X @ w))))


def logreg_form(ops, w, X, y):
    """The same expression for the peers' array namespaces."""
    return ops.mean(ops.log(1.0 + ops.exp(-y * (X @ w))))


@numba.njit
def logreg_grad_hand(w, X, y):
    """Hand gradient: Xᵀ(−y·σ(−y·Xw)) / n (two BLAS matrix-vector products)."""
    z = X @ w
    r = np.empty_like(z)
    for i in range(z.shape[0]):
        e = np.exp(-y[i] * z[i])
        r[i] = -y[i] * e / (1.0 + e) / z.shape[0]
    return X.T @ r


def inputs(n: int, d: int):
    """Separable-ish synthetic data, features scaled so Xw stays O(1)."""
    rng = np.random.default_rng(12345)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    w_true = rng.standard_normal(d)
    y = np.where(X @ w_true + 0.3 * rng.standard_normal(n) > 0, 1.0, -1.0)
    w = 0.1 * rng.standard_normal(d)
    return w, X, y


def cases(quick: bool) -> list[Case]:
    n, d = (2_000, 100) if quick else (10_000, 100)
    tools = [
        ToolSpec("srcgrad", peers.srcgrad(logreg_loss, 0)),
        ToolSpec("hand", peers.direct(logreg_grad_hand)),
        ToolSpec("objective", peers.numba_objective(logreg_loss), kind="objective"),
        ToolSpec("fd", peers.finite_differences(logreg_loss, 0), tol=1e-6),
        *peers.peer_specs(logreg_form, 0, tangent_fun=logreg_loss),
    ]
    return [Case(f"logreg {n}x{d}", "logreg", f"logistic regression mean log-loss, X is {n}×{d}",
                 lambda: inputs(n, d), tools, params={"n": n, "d": d}, time_unit="gradient")]
