"""W4 — a damped nonlinear oscillator integrated for T explicit steps (a long sequential loop).

Parameters differentiated: stiffness k, damping c and initial position x0;
the loss is a function of the final state only.
"""

import numba
import numpy as np

from benchmarks import peers
from benchmarks.peers import ToolSpec
from benchmarks.workloads import Case

DT = 0.01


def oscillator(k, c, x0, dt, steps):
    """Semi-implicit Euler for x'' = −k sin x − c x'; loss (x_T − ½)² + v_T²."""
    x = x0
    v = 0.0
    for _ in range(steps):
        v += dt * (-k * np.sin(x) - c * v)
        x += dt * v
    return (x - 0.5) ** 2 + v * v


def oscillator_form(ops, k, c, x0, dt, steps):
    """The same recurrence in a peer's namespace (a Python loop of scalar tensor ops)."""
    x = x0
    v = 0.0 * x0
    for _ in range(steps):
        v = v + dt * (-k * ops.sin(x) - c * v)
        x = x + dt * v
    return (x - 0.5) ** 2 + v * v


def oscillator_scan(ops, k, c, x0, dt, steps):
    """JAX's idiomatic form: lax.scan over the time steps."""

    def step(carry, _):
        x, v = carry
        v = v + dt * (-k * ops.sin(x) - c * v)
        x = x + dt * v
        return (x, v), None

    (x, v), _ = ops.lax.scan(step, (x0, 0.0 * x0), None, length=steps)
    return (x - 0.5) ** 2 + v * v


@numba.njit
def oscillator_grad_hand(k, c, x0, dt, steps):
    """Hand adjoint: the forward sweep stores sin x_t, cos x_t (one fused sincos) and v_t;
    the reverse sweep then needs no transcendental at all."""
    sins = np.empty(steps)
    coss = np.empty(steps)
    vs = np.empty(steps)
    x = x0
    v = 0.0
    for t in range(steps):
        s = np.sin(x)
        sins[t] = s
        coss[t] = np.cos(x)
        vs[t] = v
        v += dt * (-k * s - c * v)
        x += dt * v
    x_bar = 2.0 * (x - 0.5)
    v_bar = 2.0 * v
    k_bar = 0.0
    c_bar = 0.0
    damp = 1.0 - dt * c
    for t in range(steps - 1, -1, -1):
        v_bar += dt * x_bar  # x_{t+1} = x_t + dt v_{t+1}
        k_bar -= dt * sins[t] * v_bar  # v_{t+1} = v_t (1 − dt c) − dt k sin x_t
        c_bar -= dt * vs[t] * v_bar
        x_bar -= dt * k * coss[t] * v_bar
        v_bar *= damp
    return k_bar, c_bar, x_bar


def _case(steps: int) -> Case:
    argnums = (0, 1, 2)
    tools = [
        ToolSpec("srcgrad", peers.srcgrad(oscillator, argnums)),
        ToolSpec("hand", peers.direct(oscillator_grad_hand)),
        ToolSpec("objective", peers.numba_objective(oscillator), kind="objective"),
        ToolSpec("fd", peers.finite_differences(oscillator, argnums), tol=1e-5),
        *peers.peer_specs(oscillator_form, argnums, jax_forms={"lax.scan": oscillator_scan},
                          tangent_fun=oscillator),
    ]
    return Case(f"oscillator T={steps:.0e}".replace("e+0", "e"), "oscillator",
                f"damped pendulum, {steps} explicit steps, gradient in (k, c, x0)",
                lambda: (1.3, 0.2, 1.0, DT, steps), tools, params={"T": steps}, time_unit="gradient")


def cases(quick: bool) -> list[Case]:
    return [_case(t) for t in ((1_000,) if quick else (1_000, 10_000))]
