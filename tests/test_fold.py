"""Folding and common-subexpression elimination must not merge reads of an array written in between."""

import numpy as np

import srcgrad
from srcgrad.ir import Eqn, walk


def _twice_with_store(x):
    a = np.zeros(3)
    a[0] = x
    t1 = np.sum(a * 2.0)
    a[1] = x * x  # a changes without being reassigned
    t2 = np.sum(a * 2.0)
    return t1 + t2


def _twice_with_view_store(x):
    a = np.zeros(4)
    v = a[1:3]
    t1 = np.sum(a * 3.0)
    v[0] = x  # writes a[1] through a view
    t2 = np.sum(a * 3.0)
    return t1 + t2


def _twice_pure(x):
    a = np.full(3, x)
    return np.sum(a * 2.0) + np.sum(a * 2.0)


def test_expression_is_recomputed_after_a_store():
    assert srcgrad.jit(_twice_with_store)(3.0) == _twice_with_store(3.0) == 30.0
    assert srcgrad.grad(_twice_with_store)(3.0) == 2.0 + 2.0 + 4.0 * 3.0  # d/dx (2x + 2x + 2x^2)


def test_expression_is_recomputed_after_a_store_through_a_view():
    assert srcgrad.jit(_twice_with_view_store)(2.0) == _twice_with_view_store(2.0) == 6.0


def test_unwritten_arrays_are_still_merged():
    gen = srcgrad.jit(_twice_pure).transform.specialize_for_values((1.5,)).built.generated
    assert sum(1 for s in walk(gen.body) if isinstance(s, Eqn) and s.prim == "mul") == 1
    assert srcgrad.grad(_twice_pure)(1.5) == 12.0
