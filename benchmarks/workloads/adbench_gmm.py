"""W5a — ADBench GMM (Gaussian mixture fit): objectives and hand adjoint from benchmarks.adbench.

Inputs are read in place from $SRCGRAD_ADBENCH (default <repo>/../shared/adbench).
srcgrad differentiates ADBench's loop form; the peers run one vectorised form
written here against the `ops` namespace (Q_k gathered from [exp(q), l, 0]).
"""

import math
from pathlib import Path

import numpy as np

from benchmarks import peers
from benchmarks.peers import ToolSpec
from benchmarks.workloads import Case

ARGNUMS = (0, 1, 2)  # alphas, means, icf
QUICK = (("data/gmm/1k/gmm_d10_K5.txt",),)
FULL = (
    ("data/gmm/1k/gmm_d10_K25.txt",),
    ("data/gmm/10k/gmm_d10_K25.txt", "data/gmm/10k/gmm_d10_K5.txt"),  # first one found
    ("data/gmm/1k/gmm_d64_K10.txt",),
)


def q_index(d: int) -> np.ndarray:
    """(d, d) positions into [log-diag (d), lower part column by column, one zero slot]."""
    idx = np.full((d, d), d * (d + 1) // 2, dtype=np.int64)
    idx[np.arange(d), np.arange(d)] = np.arange(d)
    pos = d
    for col in range(d):
        for row in range(col + 1, d):
            idx[row, col] = pos
            pos += 1
    return idx


def gmm_constant(n: int, d: int, k: int, wishart_gamma: float, wishart_m: int) -> float:
    """The parameter-free terms of ADBench's GMM objective."""
    big_n = d + wishart_m + 1
    log_gamma_d = 0.25 * d * (d - 1) * math.log(math.pi) + sum(
        math.lgamma(0.5 * big_n + 0.5 * (1 - j)) for j in range(1, d + 1))
    c_prior = big_n * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) - log_gamma_d
    return -n * d * 0.5 * math.log(2.0 * math.pi) - k * c_prior


def gmm_form(ops, alphas, means, icf, x, wishart_gamma, wishart_m):
    """ADBench GMM objective, vectorised for JAX / PyTorch / autograd (memory n·K·d)."""
    n, d = x.shape
    k = alphas.shape[0]
    qdiag = ops.exp(icf[:, :d])
    sum_qs = ops.sum(icf[:, :d], 1)
    padded = ops.concatenate([qdiag, icf[:, d:], ops.zeros((k, 1))], 1)
    q = padded[:, q_index(d)]  # (K, d, d) lower triangular
    xc = x[:, None, :] - means[None, :, :]  # (n, K, d)
    qxc = ops.einsum("kij,nkj->nki", q, xc)
    beta = alphas + sum_qs - 0.5 * ops.sum(qxc * qxc, 2)
    loglik = ops.sum(ops.logsumexp(beta, 1)) - n * ops.logsumexp(alphas, 0)
    frob = ops.sum(qdiag * qdiag) + ops.sum(icf[:, d:] ** 2)
    prior = 0.5 * wishart_gamma**2 * frob - wishart_m * ops.sum(sum_qs)
    return loglik + prior + gmm_constant(n, d, k, wishart_gamma, wishart_m)


def find_input(options) -> tuple[str | None, str]:
    """First existing file among options (relative to the ADBench folder), or a reason."""
    from benchmarks.adbench.data import adbench_dir, default_adbench_path

    root = adbench_dir()
    if root is None:
        return None, f"ADBench data not found at {default_adbench_path()} (set SRCGRAD_ADBENCH)"
    for rel in options:
        if (Path(root) / rel).is_file():
            return rel, ""
    return None, f"{options[0]} not found under {root}"


# The configuration, d=10 K=25 n=10k, has no ADBench file: the 1k K=25 file's parameters
# with the 10k file's points (both d=10).
MIXED = ("data/gmm/1k/gmm_d10_K25.txt", "data/gmm/10k/gmm_d10_K5.txt")


def _mixed_case() -> Case:
    name = "gmm 10k d10 K25"
    for rel in MIXED:
        found, reason = find_input((rel,))
        if found is None:
            return Case(name, "adbench_gmm", "ADBench GMM", tuple, unavailable=reason)

    def make_inputs():
        from benchmarks.adbench.data import read_gmm

        params, points = read_gmm(MIXED[0]), read_gmm(MIXED[1])
        return (params.alphas, params.means, params.icf, points.x, float(params.wishart_gamma),
                int(params.wishart_m))

    return _with_tools(name, f"ADBench GMM: parameters of {MIXED[0]}, the points of {MIXED[1]}",
                       make_inputs, {"file": MIXED[0], "points": MIXED[1]})


def _case(options) -> Case:
    rel, reason = find_input(options)
    stem = Path(rel or options[0])
    name = f"gmm {stem.parent.name} {stem.stem.removeprefix('gmm_').replace('_', ' ')}"
    if rel is None:
        return Case(name, "adbench_gmm", "ADBench GMM", tuple, unavailable=reason)
    from benchmarks.adbench.data import read_gmm

    def make_inputs():
        g = read_gmm(rel)
        return (g.alphas, g.means, g.icf, g.x, float(g.wishart_gamma), int(g.wishart_m))

    return _with_tools(name, f"ADBench GMM {rel}", make_inputs, {"file": rel})


def _with_tools(name, title, make_inputs, params) -> Case:
    from benchmarks.adbench import gmm

    drop_value = lambda r: peers.flat(r[1:])  # noqa: E731 - hand adjoint returns (obj, grads...)
    tools = [
        ToolSpec("srcgrad", peers.srcgrad(gmm.gmm_objective_loops, ARGNUMS)),
        ToolSpec("srcgrad", peers.srcgrad(gmm.gmm_objective_numpy, ARGNUMS), variant="numpy form"),
        ToolSpec("hand", peers.direct(gmm.gmm_grad_hand, drop_value)),
        ToolSpec("hand", peers.direct(gmm.gmm_grad_hand_pointwise, drop_value), variant="per point"),
        ToolSpec("objective", peers.direct(gmm.gmm_objective_njit), kind="objective"),
        ToolSpec("fd", peers.finite_differences(gmm.gmm_objective_numpy, ARGNUMS), tol=1e-5),
        *peers.peer_specs(gmm_form, ARGNUMS, tangent_reason="skipped (loop form too slow in Python)"),
    ]
    return Case(name, "adbench_gmm", f"{title}, gradient in (α, μ, icf)", make_inputs, tools,
                params=params, time_unit="gradient")


def cases(quick: bool) -> list[Case]:
    if quick:
        return [_case(options) for options in QUICK]
    return [_case(FULL[0]), _mixed_case(), *[_case(options) for options in FULL[1:]]]
