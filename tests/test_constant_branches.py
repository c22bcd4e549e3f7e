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


# A variable assigned more than once, constant where the ``if`` tests it (found by fuzzing: the
# value_and_grad of the first two did not compile; numba pruned one sweep's copy of the branch).
def constant_before_branch(x):
    tot = 0.0
    if tot > 1.3:
        tot += x[0] * x[1]
    else:
        tot += x[1] * x[2]
    return tot


def constant_before_loop_with_break(x):
    n = x.shape[0]
    tot = 0.0
    c1 = 0
    if tot > 1.3:
        for v0 in range(2, n, 2):
            if x[c1 - 1] > 0.85:
                break
            tot += x[v0] * x[n - 1 - c1]
    return tot + x[0] * x[1]


def constant_through_arithmetic(x):
    tot = 1.0
    u = tot * 2.0 - 0.5  # 1.5 here
    if u > 1.0:
        tot = tot + np.sin(x[0]) * x[2]
    else:
        tot = tot * x[1]
    return tot * x[3]


def changed_in_the_loop(x):  # not constant inside the loop: the test must stay
    tot = 0.0
    for i in range(x.shape[0]):
        if tot > 1.3:
            tot = tot * 0.5
        tot += x[i] * x[i]
    return tot


def changed_in_a_branch_before(x):  # tot may be 0.0 or x[0] at the second if: kept
    tot = 0.0
    if x[0] > 0.2:
        tot = x[0]
    if tot > 0.0:
        return tot * x[1]
    return x[2] * x[1]


@pytest.mark.parametrize("fn", [constant_before_branch, constant_before_loop_with_break,
                                constant_through_arithmetic, changed_in_the_loop, changed_in_a_branch_before])
@pytest.mark.parametrize("scale", [1.0, 0.1])
def test_constant_at_the_test_reassigned_elsewhere(fn, scale):
    x = np.linspace(0.5, 1.5, 5) * scale
    check_grad(fn, x)
    value, grad = sg.value_and_grad(fn)(x)
    assert np.isclose(value, fn(x), rtol=1e-12)
    np.testing.assert_allclose(grad, sg.grad(fn)(x), rtol=1e-12)


def test_reaching_constants_prune_only_where_constant():
    x = np.linspace(0.5, 1.5, 5)
    assert "1.3" not in sg.grad(constant_before_branch).source_for(x)
    assert "x[0]" not in sg.grad(constant_before_branch).source_for(x).split("def ")[-1]
    assert "1.3" in sg.grad(changed_in_the_loop).source_for(x)
    assert "> 0.0" in sg.grad(changed_in_a_branch_before).source_for(x)
