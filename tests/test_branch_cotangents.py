"""Each branch of an ``if`` is reversed from the cotangents as they are before the ``if``: a
variable overwritten in one branch (its cotangent reset there) and read in the other kept losing
the other branch's incoming cotangent (a silent wrong gradient, found by fuzzing; present since
the first releases)."""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def then_overwrites_else_reads(x):
    s = x[0]
    t = x[1]
    if x[2] > 0.0:
        s = x[3]
    else:
        t = t * s
    return s + t


def in_a_loop(x):
    s = x[0]
    t = x[1]
    for j in range(4):
        if x[j] > 0.0:
            s = x[3]
        else:
            t = t * s
    return s + t


def nested(x):
    s = x[0]
    t = x[1]
    for j in range(3):
        if x[j] > 0.0:
            if x[j] > 1.0:
                s = x[3]
            else:
                t = t * s
    return s + t


def array_rebound(x):
    a = x * 1.0
    t = x[1]
    if x[2] > 0.0:
        a = x * 2.0
    else:
        t = t * np.sum(a)
    return np.sum(a) + t


def elif_chain(x):
    s = x[0]
    t = x[1]
    if x[2] > 0.0:
        s = x[3]
    elif x[3] > 2.0:
        s = x[1]
    else:
        t = t * s
    return s + t


def else_overwrites_then_reads(x):
    s = x[0]
    t = x[1]
    if x[2] > 0.0:
        t = t * s
    else:
        s = x[3]
    return s * t


CASES = [then_overwrites_else_reads, in_a_loop, nested, array_rebound, elif_chain, else_overwrites_then_reads]


@pytest.mark.parametrize("fn", CASES)
@pytest.mark.parametrize("x", [[0.3, -0.5, -0.7, 1.1], [0.3, 1.5, 0.7, 1.1], [-0.3, 0.5, 0.7, 2.5]])
def test_branches_keep_incoming_cotangents(fn, x):
    x = np.array(x)
    check_grad(fn, x)
    value, _ = sg.value_and_grad(fn)(x)
    assert np.isclose(value, fn(x), rtol=1e-12)


def test_known_answer():
    np.testing.assert_allclose(sg.grad(then_overwrites_else_reads)(np.array([0.3, -0.5, -0.7, 1.1])),
                               [0.5, 0.3, 0.0, 0.0], rtol=1e-12)
