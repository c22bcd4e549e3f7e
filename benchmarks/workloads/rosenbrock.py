"""W2 — the Rosenbrock function written as a `for` loop (srcgrad) and vectorised (peers)."""

import numba
import numpy as np

from benchmarks import peers
from benchmarks.peers import ToolSpec
from benchmarks.workloads import Case


def rosenbrock(x):
    """Σ 100 (x[i+1] − x[i]²)² + (1 − x[i])², as a plain loop."""
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def rosenbrock_vectorised(ops, x):
    """The idiomatic array form used by the peers (and by finite differences with NumPy)."""
    return ops.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_fori(ops, x):
    """JAX's loop form: lax.fori_loop over the same scalar recurrence as the primal."""

    def body(i, s):
        return s + 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2

    return ops.lax.fori_loop(0, x.shape[0] - 1, body, 0.0)


@numba.njit
def rosenbrock_grad_hand(x):
    """Reverse mode written by hand the way a good source transformer would: a forward sweep
    (the primal), then an adjoint sweep in reverse order that recomputes the cheap
    intermediates from x (x is never overwritten, so nothing needs a tape)."""
    n = x.shape[0]
    s = 0.0
    for i in range(n - 1):
        a = x[i + 1] - x[i] ** 2
        b = 1.0 - x[i]
        s += 100.0 * a * a + b * b
    x_bar = np.zeros(n)
    s_bar = 1.0
    for i in range(n - 2, -1, -1):
        a = x[i + 1] - x[i] ** 2
        b = 1.0 - x[i]
        a_bar = 200.0 * a * s_bar
        b_bar = 2.0 * b * s_bar
        x_bar[i + 1] += a_bar
        x_bar[i] -= 2.0 * x[i] * a_bar + b_bar
    return x_bar


@numba.njit
def rosenbrock_grad_taped(x):
    """The same adjoint with the intermediates stored on tapes in the forward sweep: shows what
    storing instead of recomputing costs (fresh large arrays page-fault on first touch)."""
    n = x.shape[0]
    tape_a = np.empty(n - 1)
    tape_b = np.empty(n - 1)
    s = 0.0
    for i in range(n - 1):
        a = x[i + 1] - x[i] ** 2
        b = 1.0 - x[i]
        tape_a[i] = a
        tape_b[i] = b
        s += 100.0 * a * a + b * b
    x_bar = np.zeros(n)
    s_bar = 1.0
    for i in range(n - 2, -1, -1):
        a_bar = 200.0 * tape_a[i] * s_bar
        b_bar = 2.0 * tape_b[i] * s_bar
        x_bar[i + 1] += a_bar
        x_bar[i] -= 2.0 * x[i] * a_bar + b_bar
    return x_bar


@numba.njit
def rosenbrock_grad_fused(x):
    """The performance limit: the gradient derived on paper, one forward loop, no tape."""
    n = x.shape[0]
    g = np.zeros(n)
    for i in range(n - 1):
        a = x[i + 1] - x[i] * x[i]
        g[i] += -400.0 * x[i] * a - 2.0 * (1.0 - x[i])
        g[i + 1] += 200.0 * a
    return g


def inputs(n: int):
    """A deterministic point away from the minimum."""
    rng = np.random.default_rng(n)
    return (rng.uniform(-1.5, 1.5, n),)


def _case(n: int, quick: bool) -> Case:
    tools = [
        ToolSpec("srcgrad", peers.srcgrad(rosenbrock, 0)),
        ToolSpec("hand", peers.direct(rosenbrock_grad_hand)),
        ToolSpec("hand", peers.direct(rosenbrock_grad_fused), variant="fused"),
        ToolSpec("hand", peers.direct(rosenbrock_grad_taped), variant="taped"),
        ToolSpec("objective", peers.numba_objective(rosenbrock), kind="objective"),
        ToolSpec("fd", peers.finite_differences(lambda x: rosenbrock_vectorised(peers.numpy_ops(), x), 0),
                 tol=1e-5),
        *peers.peer_specs(
            rosenbrock_vectorised, 0,
            jax_forms={"vectorised": rosenbrock_vectorised, "fori_loop": rosenbrock_fori},
            tangent_fun=rosenbrock if n <= 10_000 else None,
        ),
    ]
    return Case(f"rosenbrock n={n:.0e}".replace("e+0", "e"), "rosenbrock",
                f"Rosenbrock function as a for loop, n = {n}", lambda: inputs(n), tools,
                params={"n": n}, time_unit="gradient")


def cases(quick: bool) -> list[Case]:
    sizes = (1_000, 100_000) if quick else (1_000, 1_000_000)
    return [_case(n, quick) for n in sizes]
