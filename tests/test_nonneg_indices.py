"""Unsigned indices (srcgrad/nonneg.py): generated code indexes with an unsigned copy
(``i_u = np.uint64(i)``, ``a[i_u]``) of each integer variable that can never be negative, so numba
skips its negative-index wraparound.  A wrong "never negative" would
turn ``x[-1]`` into an out-of-bounds read, so each program here is checked three ways: which
indices the generated source writes unsigned, the gradient against finite differences, and the
gradient against a known answer where one is easy to write down."""

import re

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def _source(f, *args, argnums=0):
    return sg.grad(f, argnums=argnums).source_for(*args)


def _unsigned(src) -> set:
    """Variables indexing arrays through an unsigned copy (``i_u = np.uint64(i)``; ``a[i_u]``)."""
    copies = dict(re.findall(r"^\s*(\w+) = np\.uint64\((\w+)\)$", src, flags=re.M))
    return {name for u, name in copies.items() if re.search(rf"\[[^\]]*\b{u}\b", src)}


def _unsigned_reads(src, array) -> bool:
    """Whether ``array`` (or its adjoint) is indexed with an unsigned copy anywhere."""
    copies = set(re.findall(r"^\s*(\w+) = np\.uint64\(\w+\)$", src, flags=re.M))
    reads = re.findall(rf"\b{array}(?:_bar)?\[([^\]]+)\]", src)
    return any(u in re.findall(r"\w+", r) for r in reads for u in copies)


def triangle(x, w):
    """GMM's triangular product: a counter carried across a nested loop, undone in reverse."""
    d = x.shape[0]
    q = np.zeros(d)
    idx = 0
    for col in range(d):
        for row in range(col + 1, d):
            q[row] = q[row] + w[idx] * x[col]
            idx += 1
    tot = 0.0
    for j in range(d):
        tot += q[j] * q[j]
    return tot


def test_triangle_counter_and_reversed_loops_are_unsigned():
    x, w = np.linspace(0.5, 1.5, 5), np.linspace(-1.0, 1.0, 10)
    src = _source(triangle, x, w, argnums=(0, 1))
    assert {"idx", "row", "col", "j"} <= _unsigned(src)
    assert "idx = idx - 1" in src  # the counter is undone, not taped
    check_grad(triangle, x, w, argnums=(0, 1))


def wraps(x):
    """i runs from -2: x[i] reads the last elements first (NumPy's wraparound)."""
    tot = 0.0
    for i in range(-2, 3):
        tot += x[i] * x[i]
    return tot


def shifted(x):
    """j = i - 1 is -1 at i = 0."""
    tot = 0.0
    for i in range(x.shape[0]):
        j = i - 1
        tot += x[j] * (i + 1.0)
    return tot


def counts_down(x):
    """A counter decremented below zero."""
    k = 0
    tot = 0.0
    for _i in range(3):
        k -= 1
        tot += x[k] * x[k]
    return tot


def down_to_minus_one(x):
    """A descending range whose last value is -1."""
    tot = 0.0
    for i in range(2, -2, -1):
        tot += x[i] * (i + 3.0)
    return tot


def by_parameter(x, k):
    """An integer argument may be negative."""
    return x[k] * x[k] + x[k - 1]


@pytest.mark.parametrize("f, expected", [
    (wraps, lambda x: 2.0 * x * np.array([1, 1, 1, 1, 1], float)),
    (shifted, lambda x: np.array([2.0, 3.0, 4.0, 5.0, 1.0])),
    (counts_down, lambda x: np.array([0.0, 0.0, 2 * x[2], 2 * x[3], 2 * x[4]])),
    (down_to_minus_one, lambda x: np.array([3.0, 4.0, 5.0, 0.0, 2.0])),
])
def test_possibly_negative_indices_keep_wraparound(f, expected):
    x = np.linspace(0.3, 1.7, 5)
    src = _source(f, x)
    assert re.search(r"\bx\[", src) and not _unsigned_reads(src, "x"), src
    np.testing.assert_allclose(sg.grad(f)(x), expected(x), rtol=1e-12)
    check_grad(f, x)


def test_integer_argument_index_is_signed():
    x = np.linspace(0.3, 1.7, 5)
    src = _source(by_parameter, x, -1)
    assert "uint64" not in src and not _unsigned(src)
    g = sg.grad(by_parameter)(x, -1)
    expected = np.zeros(5)
    expected[-1] += 2 * x[-1]
    expected[-2] += 1.0
    np.testing.assert_allclose(g, expected)
    g0 = sg.grad(by_parameter)(x, 0)  # x[0] and x[-1]
    expected0 = np.zeros(5)
    expected0[0] = 2 * x[0]
    expected0[-1] = 1.0
    np.testing.assert_allclose(g0, expected0)


def taped_index(x, order):
    """An index read from an integer array the user fills: not a tape, stays signed unless
    every value stored is provably non-negative."""
    n = x.shape[0]
    pos = np.zeros(n, dtype=np.int64)
    for i in range(n):
        pos[i] = order[i]
    tot = 0.0
    for i in range(n):
        tot += x[pos[i]] * (i + 1.0)
    return tot


def test_index_from_user_array_of_unknown_sign():
    x = np.linspace(0.3, 1.7, 4)
    order = np.array([-1, 0, 2, -3])
    src = _source(taped_index, x, order)
    assert re.search(r"\bx\[", src) and not _unsigned_reads(src, "x"), src
    expected = np.zeros(4)
    for i, p in enumerate(order):
        expected[p] += i + 1.0
    np.testing.assert_allclose(sg.grad(taped_index)(x, order), expected)


def clipped(x, k):
    """max(k, 0) and half a shape entry are never negative; k and x.shape[0] - 1 may be."""
    j = max(k, 0)
    m = x.shape[0] // 2
    return x[j] * x[m] + x[k]


def test_max_with_zero_and_shape_entries():
    x = np.linspace(0.3, 1.7, 5)
    src = _source(clipped, x, -2)
    assert {"j", "m"} <= _unsigned(src) and "k" not in _unsigned(src)
    expected = np.zeros(5)
    expected[0] += x[2]
    expected[2] += x[0]
    expected[-2] += 1.0
    np.testing.assert_allclose(sg.grad(clipped)(x, -2), expected)
    check_grad(clipped, x, 3)


def while_counter(x):
    """A while loop's counter, taped per iteration and restored."""
    i = 0
    tot = 0.0
    while tot < 3.0 and i < x.shape[0]:
        tot += x[i] * x[i]
        i += 1
    return tot


def test_while_counter():
    x = np.array([0.5, 0.9, 1.1, 1.3, 0.2])
    src = _source(while_counter, x)
    assert "i" in _unsigned(src)
    check_grad(while_counter, x)
    n = 4  # 0.25 + 0.81 + 1.21 = 2.27 < 3; + 1.69 = 3.96 stops the loop
    expected = np.zeros(5)
    expected[:n] = 2 * x[:n]
    np.testing.assert_allclose(sg.grad(while_counter)(x), expected)


def narrow_wraps(x):
    """int8 arithmetic wraps: 100 + 100 is -56 (found by fuzzing: the analysis took the sum of two
    non-negative stored values for non-negative)."""
    b = np.zeros(2, dtype=np.int8)
    b[0] = 100
    b[1] = b[0] + b[0]
    return x[b[1]] * x[b[1]]


def test_narrow_integer_arrays_stay_signed():
    x = np.linspace(0.1, 2.0, 200)
    with np.errstate(over="ignore"):
        assert narrow_wraps(x) == x[144] ** 2
    src = _source(narrow_wraps, x)
    assert not _unsigned_reads(src, "x"), src
    expected = np.zeros(200)
    expected[144] = 2 * x[144]
    np.testing.assert_allclose(sg.grad(narrow_wraps)(x), expected)
    np.testing.assert_allclose(sg.value_and_grad(narrow_wraps)(x)[0], x[144] ** 2)


def bool_minus_one_index(x):  # (i > 1) - 1 is an int (0 or -1), as in NumPy 2 and numba
    s = 0.0
    for i in range(x.shape[0]):
        j = (i > 1) - 1
        s += x[j] * x[i]
    return s


def bool_plus_two_index(x):
    s = 0.0
    for i in range(x.shape[0]):
        k = (x[i] > 0.5) + 2
        s += x[k] * x[i] + (x[i] > 0.2) * x[i]
    return s


@pytest.mark.parametrize("fn", [bool_minus_one_index, bool_plus_two_index])
def test_bool_plus_int_literal_is_an_integer_index(fn):
    x = np.linspace(0.1, 1.0, 5)
    check_grad(fn, x)
    value, grad = sg.value_and_grad(fn)(x)
    assert np.isclose(value, fn(x), rtol=1e-12)
    if fn is bool_minus_one_index:  # s = x[-1] (x[0] + x[1]) + x[0] (x[2] + ... + x[n-1])
        expected = np.zeros_like(x)
        expected[-1] += x[0] + x[1]
        expected[:2] += x[-1]
        expected[0] += x[2:].sum()
        expected[2:] += x[0]
        np.testing.assert_allclose(grad, expected, rtol=1e-12)
