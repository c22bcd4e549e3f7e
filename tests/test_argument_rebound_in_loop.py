"""An array argument rebound inside a loop and read after the rebinding (``for t in range(2):
x = x * 2.0; tot += np.sum(x)``).  The reverse pass took the argument for an array local to the
loop (assigned only there, read nowhere else) and did not carry its cotangent from one reversed
iteration to the next: d/dx of that example came out 2 instead of 6, silently (found by
fuzzing).  Every gradient here is checked against finite differences and against the same
function on a local copy of the argument."""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def doubled(x):
    tot = 0.0
    for _t in range(2):
        x = x * 2.0
        tot += np.sum(x)
    return tot


def doubled_copy(x):
    y = x.copy()
    tot = 0.0
    for _t in range(2):
        y = y * 2.0
        tot += np.sum(y)
    return tot


def sine_steps(x):
    tot = 0.0
    for _t in range(3):
        x = np.sin(x) * x
        tot += np.sum(x * x)
    return tot


def sine_steps_copy(x):
    y = x.copy()
    tot = 0.0
    for _t in range(3):
        y = np.sin(y) * y
        tot += np.sum(y * y)
    return tot


def while_steps(x):
    tot = 0.0
    i = 0
    while i < 3:
        x = np.tanh(x) * 1.5
        tot += np.sum(x)
        i += 1
    return tot


def second_argument(w, x):
    tot = 0.0
    for _t in range(2):
        x = x * w
        tot += np.sum(x)
    return tot


@pytest.mark.parametrize("fn, twin", [(doubled, doubled_copy), (sine_steps, sine_steps_copy)])
@pytest.mark.parametrize("shape", [(3,), (2, 3)])
def test_matches_the_local_copy_and_finite_differences(fn, twin, shape):
    x = np.random.default_rng(len(shape)).uniform(-1.5, 1.5, shape)
    check_grad(fn, x)
    np.testing.assert_allclose(sg.grad(fn)(x), sg.grad(twin)(x), rtol=1e-12, atol=1e-14)


def test_known_answer():
    np.testing.assert_array_equal(sg.grad(doubled)(np.array([1.0, 2.0])), [6.0, 6.0])


def test_while_loop():
    check_grad(while_steps, np.random.default_rng(3).uniform(-1, 1, 4))


def test_two_arguments():
    rng = np.random.default_rng(4)
    w, x = rng.uniform(0.5, 1.5, 3), rng.uniform(-1, 1, 3)
    check_grad(second_argument, w, x, argnums=(0, 1))
    gw, gx = sg.grad(second_argument, argnums=(0, 1))(w, x)
    np.testing.assert_allclose(gx, w + w * w, rtol=1e-12)  # sum(x w) + sum(x w w)
    np.testing.assert_allclose(gw, x + 2 * x * w, rtol=1e-12)
