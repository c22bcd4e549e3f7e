"""Loop-invariant adjoint increments kept in a scalar (increments.hoist_accumulators) are added
into the array after the loop only if they are not zero: after zero trips the user's code never
evaluated the index, which may be out of bounds (``x[i]`` with ``i == n`` below).  The Python
backend runs the generated code with NumPy's bounds checks, so an unguarded flush raises there.
"""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def upper_pairs(x, w):
    n = x.shape[0]
    s = 0.0
    for i in range(1, n + 1):
        for j in range(i, n):  # no trips when i == n: x[i] is never read then
            s += w[j - 1] * x[i] ** 2
    return s


def upper_pairs_descending(x, w):
    n = x.shape[0]
    s = 0.0
    for i in range(1, n + 1):
        for j in range(n - 1, i - 1, -1):
            s += np.sin(w[j - 1]) * x[i]
    return s


def upper_pairs_stepped(x, w, step):
    n = x.shape[0]
    s = 0.0
    for i in range(1, n + 1):
        for j in range(i, n, step):
            s += w[j - 1] * x[i] ** 2
    return s


def upper_pairs_hand(x, w):
    n = x.shape[0]
    g = np.zeros_like(x)
    for i in range(1, n):
        for j in range(i, n):
            g[i] += 2.0 * w[j - 1] * x[i]
    return g


@pytest.mark.parametrize("backend", ["python", "cpu"])
def test_flush_after_a_loop_that_may_not_run_is_guarded(backend):
    x, w = np.linspace(0.3, 1.4, 6), np.linspace(-1.0, 0.7, 6)
    g = sg.grad(upper_pairs, backend=backend)(x, w)
    np.testing.assert_allclose(g, upper_pairs_hand(x, w), rtol=1e-12)
    check_grad(upper_pairs, x, w, backend=backend)
    text = sg.grad(upper_pairs).source_for(x, w)
    assert "x_bar_acc0 = 0.0" in text  # still hoisted ...
    assert "if nonzero" in text  # ... and flushed only if something was added (not after zero trips)


@pytest.mark.parametrize("backend", ["python", "cpu"])
def test_descending_inner_loop(backend):
    x, w = np.linspace(-0.8, 0.9, 5), np.linspace(0.1, 1.3, 5)
    check_grad(upper_pairs_descending, x, w, backend=backend)
    assert "if nonzero" in sg.grad(upper_pairs_descending).source_for(x, w)


@pytest.mark.parametrize("backend", ["python", "cpu"])
@pytest.mark.parametrize("step", [1, 2, 3])
def test_step_known_only_at_run_time(backend, step):
    x, w = np.linspace(0.2, 1.1, 7), np.linspace(-0.4, 0.6, 7)
    check_grad(upper_pairs_stepped, x, w, step, backend=backend)
    if step == 1:
        np.testing.assert_allclose(sg.grad(upper_pairs_stepped, backend=backend)(x, w, step),
                                   upper_pairs_hand(x, w), rtol=1e-12)
    assert "if nonzero" in sg.grad(upper_pairs_stepped).source_for(x, w, step)
