"""``t = a[i]`` read before ``a[i] = ...`` in the same loop body is re-read in the adjoint right
after that store's restore instead of being taped (tape.py ``_element_anchor``): the store's old
value is taped anyway, and it is exactly ``t``.

Every case checks the gradient against finite differences; the first also that the load was not
taped, the others are near misses where it must be (or the gradient would be wrong).  (A view of the array written in
between cannot happen: writes through views are rejected by stores.py.)
"""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad, signed_indices


def cell_update(w, x):
    """An LSTM-like state update: c[q] is read, then overwritten, every step."""
    c = np.zeros(x.shape[1])
    s = 0.0
    for t in range(x.shape[0]):
        for q in range(x.shape[1]):
            old = c[q]
            c[q] = old * np.tanh(w[q] * x[t, q]) + w[q] * old * old + x[t, q]
        for q in range(x.shape[1]):
            s += c[q] * c[q]
    return s


def read_after_store(w, x):
    """``old`` is read again after c[q] changes: its value is not the restored element's."""
    c = np.ones(x.shape[1])
    s = 0.0
    for t in range(x.shape[0]):
        for q in range(x.shape[1]):
            old = c[q]
            c[q] = np.sin(old * w[q]) + x[t, q]
            s += old * c[q]
    return s


def other_element(w, x):
    """The next write is to c[q + 1], not to the element read."""
    n = x.shape[1]
    c = np.zeros(n + 1)
    s = 0.0
    for t in range(x.shape[0]):
        for q in range(n):
            old = c[q]
            c[q + 1] = old * w[q] + np.cos(x[t, q] * old)
        for q in range(n + 1):
            s += c[q] * c[q]
    return s


def index_moves(w, x):
    """The index changes between the read and the write (k += 1 in between)."""
    n = x.shape[1]
    c = np.zeros(n + 1)
    s = 0.0
    for t in range(x.shape[0]):
        k = 0
        for q in range(n):
            old = c[k]
            k += 1
            c[k] = old * w[q] + x[t, q]
        for q in range(n + 1):
            s += np.sin(c[q])
    return s


def accumulate(w, x):
    """The write is an increment of the element read (c[q] += ...)."""
    n = x.shape[1]
    c = np.ones(n)
    s = 0.0
    for t in range(x.shape[0]):
        for q in range(n):
            old = c[q]
            c[q] += np.tanh(old * w[q]) * x[t, q]
        for q in range(n):
            s += c[q] * c[q] * w[q]
    return s


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    return rng.uniform(-0.9, 0.9, 4), rng.uniform(-0.9, 0.9, (5, 4))


def test_element_reread_after_restore(data):
    w, x = data
    g = sg.grad(cell_update, argnums=(0, 1))
    g(w, x)
    assert "old_r = c[q]" in signed_indices(g.source) and "tape_old" not in g.source
    check_grad(cell_update, w, x, argnums=(0, 1))


def test_increment_of_the_element_read(data):
    w, x = data
    check_grad(accumulate, w, x, argnums=(0, 1))


@pytest.mark.parametrize("fn", [read_after_store, other_element, index_moves])
def test_near_misses_stay_correct(fn, data):
    w, x = data
    g = sg.grad(fn, argnums=(0, 1))
    g(w, x)
    assert "old_r = c[" not in g.source
    check_grad(fn, w, x, argnums=(0, 1))
