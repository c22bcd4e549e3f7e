"""W1 — a tiny scalar function: measures the per-call latency of a gradient from Python."""

import numba

from benchmarks import peers
from benchmarks.peers import ToolSpec
from benchmarks.workloads import Case


def tiny(x, y):
    """3x² + 2xy + y² (plain Python: every tool differentiates this very function)."""
    return 3.0 * x * x + 2.0 * x * y + y * y


@numba.njit
def tiny_grad_hand(x, y):
    """Hand-written gradient (d/dx, d/dy)."""
    return 6.0 * x + 2.0 * y, 2.0 * x + 2.0 * y


def _form(ops, x, y):
    return tiny(x, y)


def cases(quick: bool) -> list[Case]:
    argnums = (0, 1)
    tools = [
        ToolSpec("srcgrad", peers.srcgrad(tiny, argnums)),
        ToolSpec("hand", peers.direct(tiny_grad_hand)),
        ToolSpec("objective", peers.numba_objective(tiny), kind="objective"),
        ToolSpec("fd", peers.finite_differences(tiny, argnums), tol=1e-6),
        *peers.peer_specs(_form, argnums, jax_forms={"jit": _form}, tangent_fun=tiny),
    ]
    return [Case("tiny 3x²+2xy+y²", "tiny", "scalar f(x, y) = 3x² + 2xy + y², latency per call",
                 lambda: (1.5, -0.5), tools, params={"inputs": 2}, time_unit="gradient call")]
