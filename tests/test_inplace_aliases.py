"""``a += v`` on an array is lowered as a new array ``a = a + v``; NumPy adds in place, so another
name of that memory would see the change. Such updates are rejected at their line (fuzzing
found the value and gradient silently different from Python's); plain ones are differentiated."""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.errors import UnsupportedError
from srcgrad.testing import check_grad


def alias_imul(x):
    a = x * 1.0
    b = a
    a *= 3.0
    return np.sum(b)


def view_iadd(x):
    a = x * 1.0
    v = a[1:]
    a += 1.0
    return np.sum(v * x[1:])


def alias_in_loop(x):
    a = x * 1.0
    s = 0.0
    for _ in range(2):
        b = a
        a += x
        s += np.sum(b * b)
    return s


@pytest.mark.parametrize("fn", [alias_imul, view_iadd, alias_in_loop])
def test_update_seen_by_another_name_is_rejected(fn):
    x = np.array([1.0, 2.0, 3.0])
    for make in (sg.grad, sg.jit):
        with pytest.raises(UnsupportedError, match=r"test_inplace_aliases\.py:\d+.*in-place a .= \.\.\."):
            make(fn)(x)


def plain_updates(x):
    a = x * 1.0
    a += x * x
    h = x.copy()
    for k in range(3):
        h *= np.sin(a + k)
        h -= 0.1 * a
    return np.sum(h * a)


def argument_alias(x):
    a = x
    a += 1.0  # NumPy would also change the caller's x; srcgrad makes a new array (docs/limitations.md)
    return np.sum(a * a)


@pytest.mark.parametrize("fn", [plain_updates, argument_alias])
def test_plain_updates_differentiate(fn):
    x = np.array([0.3, -0.5, 0.7])
    check_grad(fn, x.copy())
    value, _ = sg.value_and_grad(fn)(x.copy())
    assert np.isclose(value, fn(x.copy()), rtol=1e-12)


def _ident(v):
    return v


def alias_via_call(x):
    a = x * 1.0
    b = _ident(a)  # b is another name of a, through the helper's parameter and result
    a[0] = 5.0 * x[1]
    return np.sum(b * x)


def test_store_seen_through_a_helper_alias_is_rejected():
    with pytest.raises(UnsupportedError, match=r"test_inplace_aliases\.py:\d+.*'b' is a view of 'a'"):
        sg.grad(alias_via_call)(np.array([0.3, -0.5, 0.7]))


def copy_via_call(x):
    a = x * 1.0
    b = _ident(a).copy()
    a[0] = 5.0 * x[1]
    return np.sum(b * x) + np.sum(a)


def test_store_after_a_copy_through_a_helper_differentiates():
    check_grad(copy_via_call, np.array([0.3, -0.5, 0.7]))
