"""Stores through integer index arrays: unique indices are differentiated; repeated ones (NumPy
keeps the last write, which a store's adjoint cannot express) raise at run time naming the line,
instead of the silently wrong gradient found by fuzzing."""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def store(x, idx):
    a = np.zeros(4)
    a[idx] = x[:3] * 2.0
    return np.sum(a * x[1:5])


def add_store(x, idx):
    a = np.ones(4)
    a[idx] += x[:3]
    return np.sum(a * a)


def column_store(x, idx):
    m = np.zeros((2, 3))
    m[:, idx] = np.outer(x[:2], x[2:4])
    return np.sum(m * m)


def row_store(x, idx):
    m = np.zeros((3, 2))
    m[idx] = x[:4].reshape(2, 2) * 3.0
    return np.sum(np.sin(m))


X = np.array([0.3, -0.5, 0.7, 0.2, -0.9])


@pytest.mark.parametrize("fn, idx", [(store, [2, 0, 3]), (add_store, [3, -4, 1]),
                                     (column_store, [2, 0]), (row_store, [2, -3])])
def test_unique_indices_differentiate(fn, idx):
    idx = np.array(idx)
    check_grad(fn, X, idx, argnums=0)
    value, _ = sg.value_and_grad(fn)(X, idx)
    assert np.isclose(value, fn(X, idx), rtol=1e-12)


@pytest.mark.parametrize("fn, idx", [(store, [2, 0, 2]), (add_store, [1, 1, 0]), (add_store, [3, -1, 0]),
                                     (column_store, [-1, 2]), (row_store, [0, -3])])
def test_repeated_indices_raise_naming_the_line(fn, idx):
    idx = np.array(idx)
    with pytest.raises(ValueError, match=r"test_index_array_stores\.py:\d+: a store through an index array"):
        sg.grad(fn)(X, idx)
    assert np.isfinite(sg.jit(fn)(X, idx))  # the value alone is NumPy's (last write wins)
