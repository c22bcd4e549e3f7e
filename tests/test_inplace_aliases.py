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


# Accepted (the checks follow the order of statements, not only names): found as false
# rejections by fuzzing.
def rebind_then_iadd(x):
    h = x * 1.0
    h0 = h
    h = h * 2.0  # a new array: h0 keeps the old one
    h += 1.0
    return np.sum(h0 * h)


def imul_by_own_transpose(x):
    a = x * 1.0
    a *= a.T  # NumPy buffers the overlap: a * a.T
    return np.sum(a * np.arange(9.0).reshape(3, 3))


def read_before_update(x):
    a = x * 1.0
    b = a
    s = np.sum(b * b)  # read before the in-place update: sees the old values in NumPy too
    a += x
    return s + np.sum(a)


def argument_copied_then_written(x):
    x = x.copy()
    x[0] = 0.0
    return np.sum(x ** 2)


def _helper_copy(a):
    a = a.copy()
    a[0] = 0.0
    return a * 2.0


def helper_copies_then_writes(x):
    return np.sum(_helper_copy(x) * _helper_copy(x[::-1]))


def store_then_rebind_to_view(x):
    a = np.ones(4)
    a[1:] = x
    a = a[::2]
    return np.sum(a * a)


@pytest.mark.parametrize("fn, shape", [(rebind_then_iadd, (3,)), (imul_by_own_transpose, (3, 3)),
                                       (read_before_update, (3,)), (argument_copied_then_written, (3,)),
                                       (helper_copies_then_writes, (4,)), (store_then_rebind_to_view, (3,))])
def test_ordered_aliases_are_accepted(fn, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    check_grad(fn, x.copy())
    value, _ = sg.value_and_grad(fn)(x.copy())
    assert np.isclose(value, fn(x.copy()), rtol=1e-12)


def test_argument_written_before_its_copy_is_rejected():
    def late_copy(x):
        x[0] = 0.0
        x = x.copy()
        return np.sum(x)

    with pytest.raises(UnsupportedError, match="store into argument"):
        sg.grad(late_copy)(np.ones(3))
