"""sin/cos of loop-carried scalars: the derivative is computed in the forward sweep (forward_partials.py)."""

import numpy as np

import srcgrad
from srcgrad.testing import check_grad


def _pendulum(k, c, x0, steps):
    x = x0
    v = 0.0
    for _ in range(steps):
        v += 0.01 * (-k * np.sin(x) - c * v)
        x += 0.01 * v
    return (x - 0.5) ** 2 + v * v


def _waves(a, n):
    s = 0.0
    y = a
    for i in range(n):
        y = 0.9 * y + np.cos(y) * 0.1
        if i % 2 == 0:
            s += np.sin(y * 1.5)
    return s + a * np.sin(a)  # sin of a loop-invariant value: left to the reverse sweep


def _code(source: str) -> str:
    return "\n".join(ln for ln in source.splitlines() if not ln.strip().startswith("#"))


def _reverse_loop(source: str) -> str:
    return _code(source).split("range(last")[1]


def test_oscillator_reads_cos_from_the_forward_sweep():
    g = srcgrad.grad(_pendulum, argnums=(0, 1, 2))
    src = g.source_for(2.0, 0.3, 1.0, 50)
    assert "np.cos(x)" in _code(src).split("range(last")[0]
    assert "np.cos" not in _reverse_loop(src) and "np.sin" not in _reverse_loop(src)
    assert "tape_x" not in src  # x itself no longer needs saving
    check_grad(_pendulum, 2.0, 0.3, 1.0, 200, argnums=(0, 1, 2))


def test_branches_and_both_partials():
    src = srcgrad.grad(_waves).source_for(0.7, 9)
    assert "np.cos" not in _reverse_loop(src) and "np.sin" not in _reverse_loop(src)
    for a in (0.7, -1.3):
        check_grad(_waves, a, 9, argnums=0)


def test_second_derivatives_through_forward_partials():
    d2 = srcgrad.grad(srcgrad.grad(_waves))
    for a in (0.7, -1.3):
        h = 1e-5
        fd = (srcgrad.grad(_waves)(a + h, 9) - srcgrad.grad(_waves)(a - h, 9)) / (2 * h)
        np.testing.assert_allclose(d2(a, 9), fd, rtol=1e-6)
