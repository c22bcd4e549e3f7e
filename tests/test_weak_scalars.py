"""Python numbers do not widen float32 arrays (NumPy 2's weak scalars, NEP 50).

``0.1 * j`` with ``j`` from ``range``, ``0.5 * n`` with ``n = x.shape[0]``, a float counter
``c = c + 0.1``: each is a Python number, so NumPy 2 keeps ``h * w + 0.1 * j`` float32.  numba
types them float64 and widens, so srcgrad's types (passes.infer_types: ``Func.weak``) and the
generated code (``np.float32(t)`` at such an operand) follow NumPy.  Before, a placeholder or a
helper's result typed float64 met a float32 value and the gradient failed to compile.  Each case:
the float32 gradient vs the float64 one, no float64 array in the generated function.
"""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.types import ArrayType


def counter_in_loop(x, w):
    h = x.copy()
    for j in range(3):
        h = np.tanh(h * w + 0.1 * j)
    return np.sum(h)


def _step(h, w, j):
    return np.tanh(h * w + 0.1 * j)


def counter_through_helper(x, w):
    h = x.copy()
    for j in range(3):
        h = _step(h, w, j)
    return np.sum(h)


def counter_into_outer(x, w):
    h = x.copy()
    n = x.shape[0]
    for j in range(3):
        h = np.tanh(np.outer(h, w)[0] + 0.5 * j / n)
    return np.sum(h)


def float_counter(x, w):
    c = 0.0
    s = x[0] * 0.0
    for i in range(x.shape[0]):
        c = c + 0.25
        s = s + np.sin(x[i] * c) * w[i] * (0.5 * len(x))
    return s


def size_scaled(x, w):
    n = x.size  # a Python int, as len(x) and x.shape[0]
    h = x
    for _k in range(2):
        h = np.tanh(h * w * n)  # h starts as x: typed float64 here, it did not compile
    return np.sum(h * np.size(w))


@pytest.mark.parametrize("fn", [counter_in_loop, counter_through_helper, counter_into_outer, float_counter,
                                size_scaled])
def test_python_numbers_keep_float32(fn):
    rng = np.random.default_rng(11)
    x64, w64 = rng.uniform(-0.8, 0.8, 5), rng.uniform(-0.8, 0.8, 5)
    x, w = x64.astype(np.float32), w64.astype(np.float32)
    gfun = sg.grad(fn, argnums=(0, 1))
    gx, gw = gfun(x, w)
    assert gx.dtype == np.float32 and gw.dtype == np.float32
    gen = gfun.transform.latest().built.generated
    wide = {n: t for n, t in gen.types.items() if isinstance(t, ArrayType) and t.ndim and t.dtype == "float64"
            and not n.startswith("tape_")}  # (float_counter tapes c, a Python float: float64 is right)
    assert not wide, f"float64 arrays in a float32 program: {wide}"
    rx, rw = sg.grad(fn, argnums=(0, 1))(x64, w64)
    np.testing.assert_allclose(gx, rx, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(gw, rw, rtol=2e-5, atol=2e-6)
    value, _ = sg.value_and_grad(fn, argnums=(0, 1))(x, w)
    assert np.isclose(value, fn(x, w), rtol=1e-5)
    assert np.asarray(fn(x, w)).dtype == np.float32  # what NumPy 2 itself does


def strong_scalar(x, y):  # an element of a float64 array is not a Python number: it widens
    return np.sum(np.tanh(x * y[0]))


def test_numpy_scalars_still_widen():
    x, y = np.linspace(-0.5, 0.5, 4).astype(np.float32), np.array([0.7, 0.2])
    g = sg.grad(strong_scalar, argnums=(0, 1))
    gx, gy = g(x, y)
    assert np.asarray(strong_scalar(x, y)).dtype == np.float64
    rx, ry = sg.grad(strong_scalar, argnums=(0, 1))(x.astype(np.float64), y)
    np.testing.assert_allclose(gx, rx, rtol=1e-6)
    np.testing.assert_allclose(gy, ry, rtol=1e-6)
    assert gy.dtype == np.float64
