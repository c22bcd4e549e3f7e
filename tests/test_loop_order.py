"""Reversed loops run in ascending order when their iterations commute (srcgrad/loop_order.py).

Each case checks the gradient against finite differences and whether the generated adjoint
kept a reversed loop (``rt.range_last`` bounds) or turned it around.
"""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.ir import Block, Const, Eqn, Var
from srcgrad.loop_order import _drop_copy_backs
from srcgrad.testing import check_grad


def rosenbrock(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def branchy_sum(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            s += 2.0 * x[i]
        else:
            s -= 3.0 * x[i]
    return s


def branchy_tanh(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            s += x[i] * x[i]
        else:
            s -= np.sin(x[i])
    return s


def branch_reads(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            s += x[i] * x[i]
        else:
            s += 3.0 * x[i] * x[i + 1 - x.shape[0]]
    return s


def carried_branch(x):
    s = 0.0
    v = 1.0
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            v = x[i] * x[i]
        s += v * x[i]
    return s


def work_rows(x, w):
    n = x.shape[1]
    buf = np.zeros(n)
    s = 0.0
    for r in range(x.shape[0]):
        for j in range(n):
            buf[j] = x[r, j] * w[j]
        for j in range(n):
            s += buf[j] * buf[j] * w[j]
    return s


def conditional_fill(x, w):
    a = np.zeros(x.shape[1])
    s = 0.0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            if x[i, j] > 0.0:
                a[j] = x[i, j] * w[j]
        for j in range(x.shape[1]):
            s += a[j] * a[j]
    return s


def weighted_matvec(a, v, w):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            s += w[i] * a[i, j] * v[j]
    return s


def matvec_tanh(a, v):
    s = 0.0
    for i in range(a.shape[0]):
        row = 0.0
        for j in range(a.shape[1]):
            row += a[i, j] * v[j]
        s += np.tanh(row)
    return s


def stepped_sum(x):
    s = 0.0
    for i in range(x.shape[0] - 1, 0, -2):
        s += x[i] * x[i - 1]
    return s


def product_chain(x):
    p = 1.0
    for i in range(x.shape[0]):
        p = p * (1.0 + 0.1 * x[i])
    return p


def prefix_buffer(x):
    y = np.zeros(x.shape[0])
    y[0] = x[0]
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1] * 0.5 + x[i]
    s = 0.0
    for i in range(x.shape[0]):
        s += y[i] * y[i]
    return s


def _ascending(g, args) -> int:
    g(*args)
    return g.source.count("rt.range_last")


@pytest.mark.parametrize("fn, make, reversed_left", [
    (rosenbrock, lambda r: (r.standard_normal(9),), 0),
    (branchy_sum, lambda r: (r.standard_normal(12),), 0),
    (branch_reads, lambda r: (r.standard_normal(12),), 0),  # x[i] re-read in the mirror branch
    (carried_branch, lambda r: (r.standard_normal(12),), 1),  # v read after the if: taped
    # buf is rebuilt in each reversed row (a plain store: stays reversed); the inner adjoint
    # loop reads and zeroes buf_bar[j] only at its own j: ascending
    (work_rows, lambda r: (r.standard_normal((3, 4)), r.standard_normal(4)), 1),
    # a[j] restored from a list tape popped in reverse order: the store loop must stay reversed
    (conditional_fill, lambda r: (r.standard_normal((3, 4)), r.standard_normal(4)), 2),
    (weighted_matvec, lambda r: (r.standard_normal((4, 3)), r.standard_normal(3), r.standard_normal(4)), 0),
    # values taped in the forward sweep are popped in reverse order: these stay reversed
    (branchy_tanh, lambda r: (r.standard_normal(12),), 1),
    (matvec_tanh, lambda r: (r.standard_normal((4, 3)), r.standard_normal(3)), 1),
    (stepped_sum, lambda r: (r.standard_normal(11),), 0),
    (product_chain, lambda r: (r.standard_normal(7),), 1),  # p_bar depends on later factors
    (prefix_buffer, lambda r: (r.standard_normal(8),), 1),  # y_bar[i - 1] read after y_bar[i]
])
def test_order_and_gradient(fn, make, reversed_left):
    args = make(np.random.default_rng(3))
    argnums = tuple(range(len(args)))
    g = sg.grad(fn, argnums=argnums)
    assert _ascending(g, args) == reversed_left
    assert ("tape_" in g.source) == (bool(reversed_left) and fn is not work_rows)
    check_grad(fn, *args, argnums=argnums)


def test_rosenbrock_matches_hand_adjoint():
    x = np.random.default_rng(0).uniform(-1.5, 1.5, 1000)
    n = x.shape[0]
    hand = np.zeros(n)
    for i in range(n - 1):
        a = x[i + 1] - x[i] ** 2
        hand[i] += -400.0 * x[i] * a - 2.0 * (1.0 - x[i])
        hand[i + 1] += 200.0 * a
    np.testing.assert_allclose(sg.grad(rosenbrock)(x), hand, rtol=1e-10, atol=1e-9)


def test_copy_back_dropped_only_while_unchanged():
    s, t, u = Var("s"), Var("t"), Var("u")
    block = Block([
        Eqn("copy", (s,), (t,)),
        Eqn("mul", (t, Const(2.0)), (u,)),
        Eqn("copy", (t,), (s,)),  # s still equals t: dropped
        Eqn("add", (s, u), (s,)),
        Eqn("copy", (t,), (s,)),  # s changed since: kept
    ])
    _drop_copy_backs(block)
    assert [e.prim for e in block.stmts] == ["copy", "mul", "add", "copy"]


def test_known_zero_rewrites_only_certain_zeros():
    from srcgrad.ir import Block, For, Func, If
    from srcgrad.known_zero import propagate_zeros
    from srcgrad.types import ArrayType

    f64 = ArrayType("float64", 0)
    v, w, g, c, i, n = Var("v"), Var("w"), Var("g"), Var("c"), Var("i"), Var("n")
    then = Block([Eqn("add", (v, g), (v,)), Eqn("copy", (Const(0.0),), (v,))])  # reset: zero again
    orelse = Block([Eqn("add", (w, g), (w,))])  # w accumulates across iterations: not zero
    body = Block([If(c, then, orelse)])
    func = Func("f", [g, c, n], Block([
        Eqn("copy", (Const(0.0),), (v,)), Eqn("copy", (Const(0.0),), (w,)),
        For(i, Const(0), n, Const(1), body),
    ]), (v, w))
    func.types = {"v": f64, "w": f64, "g": f64}
    assert propagate_zeros(func) == 1
    assert then.stmts[0].prim == "copy" and then.stmts[0].ins == (g,)
    assert orelse.stmts[0].prim == "add"


def while_counter_reads(x):
    i = 0
    s = 0.0
    while i < x.shape[0]:
        s += 3.0 * x[i] * x[i] + x[i]
        i += 1
    return s


def newton_root(a):
    y = a
    while abs(y * y - a) > 1e-12 * a:
        y = 0.5 * (y + a / y)
    return y


def test_while_values_recomputed_after_their_inputs_are_restored():
    """``x[i]`` read before ``i += 1`` is re-read after the adjoint undoes the step; ``a / y``
    is recomputed after ``y`` is popped: only ``y`` itself stays on a tape."""
    x = np.random.default_rng(4).standard_normal(6)
    g = sg.grad(while_counter_reads)
    g(x)
    assert "tape_" not in g.source
    check_grad(while_counter_reads, x)
    g = sg.grad(newton_root)
    np.testing.assert_allclose(g(2.5), 0.5 / np.sqrt(2.5), rtol=1e-10)
    assert sorted(set(t for t in g.source.split() if t.startswith("tape_") and t.isidentifier())) == ["tape_y"]
