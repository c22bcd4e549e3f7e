"""A ``for`` variable whose value matters outside loops over it: read after the loop, or assigned
by a ``for`` with ``break`` (lowered to a ``while``) and reused by a later ``for``.  The reversed
later loop runs the variable through its own range, so the adjoint must give it back its value
from before that loop (tape.py: a restore site for the ``for`` variable), and dead-code
elimination must keep a loop whose variable is read after it.  Before the fix the first two gave
silently wrong gradients and the third did not compile.
"""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def break_then_reuse(w, x):
    c = np.ones(x.shape[0])
    s = 0.0
    for q in range(x.shape[0]):
        old = c[q]
        if x[q] > 0.5:
            break
        c[q] = np.sin(old * w[q]) + x[q] * old
    for q in range(x.shape[0]):
        s += c[q] * c[q]
    return s


def break_then_reuse_in_a_loop(w, x):
    c = np.ones(x.shape[1])
    s = 0.0
    for t in range(x.shape[0]):
        for q in range(x.shape[1]):
            old = c[q]
            if x[t, q] > 0.5:
                break
            c[q] = np.sin(old * w[q]) + x[t, q] * old
        for q in range(x.shape[1] - 1):
            s += c[q] * c[q] * w[q]
    return s


def read_after_the_loop(x, w):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    y = x[i] * 2.0
    for i in range(w.shape[0] - 1):
        s += w[i] * y
    return s


def break_early_then_reuse(w, x):
    """The break leaves q at 1; the later loop runs q to its end: the values differ."""
    c = np.ones(x.shape[0])
    s = 0.0
    for q in range(x.shape[0]):
        if q == 2:
            break
        c[q] = np.tanh(c[q] * w[q] + x[q])
    for q in range(x.shape[0]):
        s += c[q] * x[q] + w[q] * c[q] * c[q]
    return s


@pytest.mark.parametrize("seed", [3, 4])
def test_break_then_reuse(seed):
    rng = np.random.default_rng(seed)
    w, x = rng.uniform(-1, 1, 4), rng.uniform(-1, 1, (6, 4))
    check_grad(break_then_reuse, w, x[0], argnums=(0, 1))
    check_grad(break_then_reuse_in_a_loop, w, x, argnums=(0, 1))
    check_grad(break_early_then_reuse, w, x[0], argnums=(0, 1))


def test_loop_variable_read_after_the_loop():
    rng = np.random.default_rng(5)
    x, w = rng.uniform(-1, 1, 5), rng.uniform(-1, 1, 4)
    gx, gw = sg.grad(read_after_the_loop, argnums=(0, 1))(x, w)
    want_x = 2.0 * x
    want_x[-1] += 2.0 * np.sum(w[:-1])
    want_w = np.append(np.full(3, 2.0 * x[-1]), 0.0)
    np.testing.assert_allclose(gx, want_x, rtol=1e-13)
    np.testing.assert_allclose(gw, want_w, rtol=1e-13)
