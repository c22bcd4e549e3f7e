"""A whole optimisation: scipy.optimize.minimize(L-BFGS-B, jac=True) on Rosenbrock n=100.

The timed call is the complete `minimize` run, so per-call overheads of each
tool's value_and_grad (Python dispatch, conversions) count as users feel them.
Before timing, each tool's value_and_grad at the start point is checked against
the hand-written one; the iterations and final value go into the record.
"""

import numba
import numpy as np
from scipy.optimize import approx_fprime, minimize

from benchmarks import peers
from benchmarks.peers import Prepared, ToolSpec
from benchmarks.workloads import Case
from benchmarks.workloads.rosenbrock import rosenbrock, rosenbrock_vectorised

N = 100


@numba.njit
def rosenbrock_value_and_grad_hand(x):
    """Value and gradient in one fused loop (the hand-written limit)."""
    n = x.shape[0]
    g = np.zeros(n)
    s = 0.0
    for i in range(n - 1):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        s += 100.0 * a * a + b * b
        g[i] += -400.0 * x[i] * a - 2.0 * b
        g[i + 1] += 200.0 * a
    return s, g


def start_point():
    """The classic start (−1.2, 1, −1.2, 1, …)."""
    x0 = np.ones(N)
    x0[::2] = -1.2
    return (x0,)


def _minimizer(make_vg, jac=True):
    """Adapter: make_vg(args) gives x -> (value, gradient); time a full minimize from x0."""

    def prepare(args):
        x0 = args[0]
        vg = make_vg(args)
        info = {}

        def run(x_start):
            res = minimize(vg, x_start, jac=jac, method="L-BFGS-B")
            info.update(nit=int(res.nit), nfev=int(res.nfev), fun=float(res.fun), success=bool(res.success))
            return res

        if jac:
            check = lambda: peers.flat(vg(x0)[1])  # noqa: E731
        else:
            check = lambda: approx_fprime(x0, vg)  # noqa: E731 - what scipy's 2-point rule uses
        return Prepared(run, (x0,), lambda res: np.asarray(res.x), check=check, info=info)

    return prepare


def _srcgrad_vg(args):
    return peers.srcgrad(rosenbrock, 0, value_and_grad=True)(args).fn


def _jax_vg(args):
    ops = peers.load("jax")
    f = ops.module.jit(ops.module.value_and_grad(lambda x: rosenbrock_vectorised(ops, x)))

    def vg(x):
        v, g = f(x)
        return float(v), np.asarray(g)

    return vg


def _torch_vg(args):
    ops = peers.load("torch")

    def vg(x):
        t = ops.module.tensor(x, requires_grad=True)
        v = rosenbrock_vectorised(ops, t)
        v.backward()
        return v.item(), t.grad.numpy()

    return vg


def _autograd_vg(args):
    ops = peers.load("autograd")
    return ops.module.value_and_grad(lambda x: rosenbrock_vectorised(ops, x))


def _fd_objective(args):
    return lambda x: rosenbrock_vectorised(peers.numpy_ops(), x)


def cases(quick: bool) -> list[Case]:
    tools = [
        ToolSpec("srcgrad", _minimizer(_srcgrad_vg)),
        ToolSpec("hand", _minimizer(lambda args: rosenbrock_value_and_grad_hand)),
        ToolSpec("fd", _minimizer(_fd_objective, jac=None), variant="scipy 2-point", tol=1e-4),
        ToolSpec("jax", _minimizer(_jax_vg)),
        ToolSpec("torch", _minimizer(_torch_vg)),
        ToolSpec("autograd", _minimizer(_autograd_vg)),
    ]
    return [Case(f"scipy L-BFGS-B rosenbrock n={N}", "scipy_lbfgs",
                 f"scipy.optimize.minimize(method='L-BFGS-B', jac=True), Rosenbrock n={N}, total wall time",
                 start_point, tools, params={"n": N}, time_unit="optimisation run")]
