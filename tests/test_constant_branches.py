"""An ``if`` on a constant condition inside a loop (``s = 0.3`` ... ``if s > 0.2:``): only the
branch taken is kept (passes.prune_constant_branches).  numba pruned such branches in compiled
code on its own, in the forward sweep's copy but not always in the reverse sweep's, so a list
tape pushed only in the pruned branch had no type and the gradient did not compile (found by
fuzzing).  Gradients against finite differences, value against plain Python."""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def flag_in_loop(w, x):
    h = x.copy()
    c = x * 0.5
    s = 0.3
    for _t in range(3):
        h = np.sin(h) * h + w
        if s > 0.2:
            c = c * np.cos(h) + 0.1
        else:
            c = np.tanh(c + s * h)
            c = np.tanh(c + s * h)
    return np.sum(h * h) + np.sum(c)


def flag_false_in_loop(w, x):
    h = x.copy()
    c = x * 0.5
    s = 0.1
    for _t in range(3):
        h = np.sin(h) * h + w
        if s > 0.2:
            c = c * np.cos(h) + 0.1
        else:
            c = np.tanh(c + s * h)
            c = np.tanh(c + s * h)
    return np.sum(h * h) + np.sum(c)


def nested_flag(w, x):
    h = x.copy()
    c = x * 0.5
    s = 0.3
    k = 2
    for t in range(3):
        h = h * h * 0.5 + w
        if s > 0.2:
            if np.sum(h) > 0.0:
                continue
            c = np.sin(c) * c
        else:
            c = np.tanh(c + s * h)
        if k * 2 == 4:
            h = np.tanh(h + t)
    return np.sum(h * h) + np.sum(c)


@pytest.mark.parametrize("fn", [flag_in_loop, flag_false_in_loop, nested_flag])
def test_constant_branch_in_loop(fn):
    rng = np.random.default_rng(6)
    w, x = rng.uniform(-0.5, 0.5, 4), rng.uniform(-0.5, 0.5, 4)
    check_grad(fn, w, x, argnums=(0, 1))
    value, _ = sg.value_and_grad(fn, argnums=(0, 1))(w, x)
    assert np.isclose(value, fn(w, x), rtol=1e-12)


def test_only_the_taken_branch_is_generated():
    rng = np.random.default_rng(7)
    w, x = rng.uniform(-0.5, 0.5, 4), rng.uniform(-0.5, 0.5, 4)
    g = sg.grad(flag_in_loop, argnums=(0, 1))
    g(w, x)
    assert "tanh" not in g.source and "0.3 > 0.2" not in g.source
