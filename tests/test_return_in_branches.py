"""``return`` in one branch of an ``if`` and the function's last ``return`` after it.

The lowering copies the statements after such an ``if`` into the branch that falls through.  When
that was the *then* branch, the final ``return`` was taken for the function's tail and became the
result directly, while the *else* branch's ``return`` assigned a return variable: the value and the
gradient of the then path were silently those of an unassigned variable (0), and with a constant
condition the program did not compile (found by fuzzing).  Values against plain Python, gradients
against finite differences and closed forms.
"""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def return_in_else(x):
    s = x[0] * x[0]
    if x[2] > 0.0:
        s = s * 2.0
    else:
        return s * 3.0
    return s + x[1]


def return_in_then(x):
    s = x[0] * x[0]
    if x[2] > 0.0:
        return s * 3.0
    else:
        s = s * 2.0
    return s + x[1]


def return_in_else_constant_flag(x):
    s = x[0] * x[0]
    fl = True
    if fl:
        s = s * 2.0
    else:
        return s * 3.0
    return s + x[1]


def nested_returns(x):
    s = np.sin(x[0])
    if x[1] > 0.0:
        if x[2] > 0.5:
            s = s * x[3]
        else:
            return s - x[3]
    else:
        return s * 5.0
    return s + x[2]


@pytest.mark.parametrize("fn", [return_in_else, return_in_then, return_in_else_constant_flag, nested_returns])
@pytest.mark.parametrize("x2", [1.1, 0.2, -0.4])
def test_value_and_gradient_on_every_path(fn, x2):
    x = np.array([0.3, 0.7, x2, 0.45])
    value, grad = sg.value_and_grad(fn)(x)
    assert np.isclose(value, fn(x), rtol=1e-12)
    np.testing.assert_allclose(grad, sg.grad(fn)(x), rtol=1e-12)
    check_grad(fn, x)


def test_then_path_of_return_in_else():
    x = np.array([0.3, 0.7, 1.1, 0.45])
    np.testing.assert_allclose(sg.grad(return_in_else)(x), [4 * x[0], 1.0, 0.0, 0.0], rtol=1e-12)
    assert np.isclose(sg.jit(return_in_else)(x), 2 * x[0] ** 2 + x[1], rtol=1e-12)
