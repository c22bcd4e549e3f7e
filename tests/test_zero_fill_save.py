"""A loop nest that fills a fresh ``np.zeros`` array, one element per iteration, overwrites
zeros: the adjoint restores 0 instead of taping the old values (tape.py
``_first_write_onto_zero``).

The first cases check that the old values are not taped; the near misses overwrite values that
are not zeros, and read them back, so restoring 0 there would give a wrong gradient.  Every
gradient is checked against finite differences.
"""

import re

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad, signed_indices


def fill_then_use(w, x):
    y = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        y[i] = np.sin(w[i] * x[i])
    s = 0.0
    for t in range(3):
        for i in range(x.shape[0]):
            y[i] = y[i] * w[i] + x[i] + 0.1 * t
            s += y[i] * y[i]
    return s


def fill_2d(w, x):
    a = np.zeros((x.shape[0], w.shape[0]))
    for j in range(w.shape[0]):
        for i in range(x.shape[0]):
            a[i, j] = x[i] * w[j]
    s = 0.0
    for i in range(x.shape[0]):
        for j in range(w.shape[0]):
            a[i, j] = np.tanh(a[i, j] + w[j])
            s += a[i, j] * x[i]
    return s


def index_misses_a_loop(w, x):
    """y[i] written once per k: from the second k on it overwrites non-zeros."""
    y = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        for k in range(3):
            y[i] = y[i] * w[i] + np.cos(x[i] * k)
    s = 0.0
    for i in range(x.shape[0]):
        s += y[i] * y[i]
    return s


def filled_twice(w, x):
    y = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        y[i] = w[i] * x[i]
    for i in range(x.shape[0]):
        y[i] = y[i] * y[i] + w[i]
    s = 0.0
    for i in range(x.shape[0]):
        s += y[i] * x[i]
    return s


def nest_in_a_loop(w, x):
    y = np.zeros(x.shape[0])
    s = 0.0
    for t in range(3):
        for i in range(x.shape[0]):
            y[i] = y[i] * w[i] + x[i] * t
            s += y[i] * y[i]
    return s


def ones_not_zeros(w, x):
    y = np.ones(x.shape[0])
    for i in range(x.shape[0]):
        y[i] = y[i] * w[i] + x[i]
    s = 0.0
    for i in range(x.shape[0]):
        s += y[i] * y[i] * w[i]
    return s


@pytest.fixture
def data():
    rng = np.random.default_rng(11)
    return rng.uniform(-0.9, 0.9, 5), rng.uniform(-0.9, 0.9, 5)


@pytest.mark.parametrize("fn,array", [(fill_then_use, "y"), (fill_2d, "a")])
def test_fill_of_zeros_is_not_taped(fn, array, data):
    w, x = data
    g = sg.grad(fn, argnums=(0, 1))
    g(w, x)
    # one tape of old values: the second loop's; the fill's restore (where one is needed) is a 0
    assert len(re.findall(rf"tape_{array}_old\w* = rt.empty_f64", g.source)) == 1
    if fn is fill_then_use:
        assert "y[i] = 0.0" in signed_indices(g.source)
    check_grad(fn, w, x, argnums=(0, 1))


@pytest.mark.parametrize("fn", [index_misses_a_loop, filled_twice, nest_in_a_loop, ones_not_zeros])
def test_overwrites_of_non_zeros_stay_taped(fn, data):
    w, x = data
    check_grad(fn, w, x, argnums=(0, 1))
