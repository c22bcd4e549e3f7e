"""Work arrays rewritten in every iteration are rebuilt in the adjoint, not taped
(srcgrad/recompute.py); element increments and loop-invariant adjoint accumulations
(srcgrad/increments.py).  Every gradient is checked against finite differences.

Runs on the Python backend (no numba compile): the generated source is the same.
"""

import re

import numpy as np

import srcgrad as sg
from benchmarks.adbench import gmm
from srcgrad.testing import check_grad, signed_indices


def _source(fn, *args, argnums=0):
    g = sg.grad(fn, argnums=argnums, backend="python")
    g(*args)
    return signed_indices(g.source)


def work_array(x, w):
    n, d = x.shape
    a = np.zeros(d)
    b = np.zeros(d)
    s = 0.0
    for i in range(n):
        for j in range(d):
            a[j] = (x[i, j] - w[j]) * w[j]
        for j in range(d):
            b[j] = a[j] * a[j]
        for col in range(d):
            for row in range(col + 1, d):
                b[row] = b[row] + a[col] * w[row]
        for j in range(d):
            s += b[j] * a[j]
    return s


def _xw(n=4, d=3):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, d)), rng.normal(size=d)


def test_rewritten_work_arrays_are_rebuilt_not_taped():
    x, w = _xw()
    text = _source(work_array, x, w, argnums=(0, 1))
    assert "tape_a" not in text and "tape_b" not in text
    assert "a_old" not in text and "b_old" not in text
    assert "b[row] += " in text  # b[row] = b[row] + ... became an increment
    check_grad(work_array, x, w, argnums=(0, 1), backend="python")


def costly_fill(x, w):
    n, d = x.shape
    a = np.zeros(d)
    s = 0.0
    for i in range(n):
        for j in range(d):
            a[j] = np.sin(x[i, j]) * w[j]  # sin: cheaper to tape a's old elements than re-run
        for j in range(d):
            s += a[j] * a[j]
    return s


def partial_cover(x, w):
    n, d = x.shape
    a = np.zeros(d)
    s = 0.0
    for i in range(n):
        for j in range(1, d):  # a[0] keeps its value from before the loop: not rewritten
            a[j] = x[i, j] * w[j] + a[j - 1]
        for j in range(d):
            s += a[j] * a[j]
    return s


def read_after_loop(x, w):
    n, d = x.shape
    a = np.zeros(d)
    s = 0.0
    for i in range(n):
        for j in range(d):
            a[j] = x[i, j] * w[j]
        for j in range(d):
            s += a[j] * x[i, j]
    return s + np.sum(a * a)


def carried_scale(x, w):
    n, d = x.shape
    a = np.zeros(d)
    s = 0.0
    c = 1.0
    for i in range(n):
        for j in range(d):
            a[j] = x[i, j] * c  # c changes every iteration: the slice cannot be re-run
        c = c * w[0]
        for j in range(d):
            s += a[j] * a[j]
    return s


def conditional_write(x, w):
    n, d = x.shape
    a = np.zeros(d)
    s = 0.0
    for i in range(n):
        for j in range(d):
            if x[i, j] > 0.0:  # not an unconditional store: a may keep older elements
                a[j] = x[i, j] * w[j]
        for j in range(d):
            s += a[j] * a[j]
    return s


def test_arrays_not_provably_rewritten_keep_their_tapes():
    x, w = _xw()
    for fn in (costly_fill, partial_cover, read_after_loop, carried_scale, conditional_write):
        text = _source(fn, x, w, argnums=(0, 1))
        assert "a_old" in text, fn.__name__
        check_grad(fn, x, w, argnums=(0, 1), backend="python")


def stale_read(x, w):
    n, d = x.shape
    a = np.zeros(d)
    s = 0.0
    for i in range(n):
        for j in range(d):
            a[j] = x[i, j] * w[j]
        t = a[0] * a[1]  # read before a is written again below: taped, not re-read
        for j in range(d):
            a[j] = a[j] * t
        for j in range(d):
            s += a[j] * a[j]
    return s


def test_read_before_the_last_write_is_taped():
    x, w = _xw()
    text = _source(stale_read, x, w, argnums=(0, 1))
    assert "a_old" not in text
    check_grad(stale_read, x, w, argnums=(0, 1), backend="python")


def outer_product(x, y):
    s = 0.0
    for i in range(x.shape[0]):
        for j in range(y.shape[0]):
            s += np.sin(x[i] * y[j])
    return s


def test_loop_invariant_adjoint_increment_is_accumulated_in_a_scalar():
    x, y = np.linspace(0.1, 0.7, 4), np.linspace(-0.5, 0.9, 5)
    text = _source(outer_product, x, y, argnums=(0, 1))
    assert "x_bar_acc0 = 0.0" in text and "x_bar[i] += x_bar_acc0" in text
    check_grad(outer_product, x, y, argnums=(0, 1), backend="python")


def test_gmm_work_arrays_are_not_taped():
    rng = np.random.default_rng(3)
    d, k, n = 3, 2, 4
    args = (rng.normal(size=k), rng.normal(size=(k, d)), rng.normal(size=(k, d * (d + 1) // 2)),
            rng.normal(size=(n, d)), 1.3, 1)
    text = _source(gmm.gmm_objective_loops, *args, argnums=(0, 1, 2))
    assert "xcentered_old" not in text and "qxcentered_old" not in text
    # Q (x - mu) (a loop nest) is saved as one row per iteration; x - mu is rebuilt
    assert "rows_qxcentered" in text and "rows_xcentered" not in text
    check_grad(gmm.gmm_objective_loops, *args, argnums=(0, 1, 2), backend="python")


def nested_carry(x):
    p = 1.0
    s = 0.0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            p = p * np.sin(x[i, j])
            s += p
    return s


def triangular_carry(x):
    p = 1.0
    s = 0.0
    for i in range(x.shape[0]):
        for j in range(i, x.shape[1]):  # inner trip count changes with i
            p = p * np.sin(x[i, j])
            s += p
    return s


def conditional_carry(x):
    p = 1.0
    s = 0.0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            if x[i, j] > 0.0:
                p = p * np.sin(x[i, j])
            s += p
    return s


def test_nested_loop_tapes_are_preallocated_when_trip_counts_are_known():
    x = np.random.default_rng(1).uniform(0.2, 1.2, size=(3, 4))
    text = _source(nested_carry, x)
    assert "tape_p = rt.empty_f64(trips" in text and ".append(" not in text
    check_grad(nested_carry, x, backend="python")
    x[1, 2] = -0.4
    for fn in (triangular_carry, conditional_carry):
        src = _source(fn, x)  # a list tape (maybe shared, in a tuple: tape_merge.py)
        assert ".append(p)" in src or re.search(r"tape_item\w* = \(.*\bp(_held)?,", src), fn.__name__
        check_grad(fn, x, backend="python")


def costly_work_array_in_while(x, m):
    n = x.shape[0]
    buf = np.zeros(n)
    s = 0.0
    k = 0
    while k < 3:
        for i in range(2):
            for j in range(n):
                buf[j] = 0.0
            for j in range(n):
                for q in range(j + 1):
                    buf[j] = buf[j] + m[j, q] * x[q]
            for j in range(n):
                s += np.sin(buf[j]) * (k + i + 1)
        k += 1
    return s


def test_costly_work_array_rebuilt_when_iterations_are_not_counted_in_advance():
    """Inside a while loop the row array cannot be sized before the loop: rebuilt instead."""
    rng = np.random.default_rng(2)
    x, m = rng.normal(size=4), rng.normal(size=(4, 4))
    text = _source(costly_work_array_in_while, x, m, argnums=(0, 1))
    assert "rows_buf" not in text and "buf_old" not in text
    check_grad(costly_work_array_in_while, x, m, argnums=(0, 1), backend="python")
