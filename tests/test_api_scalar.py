"""The public API on scalar functions: value_and_grad, vjp, argnums forms, decorators, .source,
.ir, show, the python backend, calls from a user's @njit loop, determinism of generated code."""

import io
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import numpy as np
import pytest

import srcgrad as sg
from srcgrad.api import Transform
from srcgrad.types import F64, from_value


def poly(x, y):
    return 3 * x ** 2 + 2 * x * y + y ** 2


def branchy(x, y):
    a = x * y
    if a > 1.0:
        return a * x
    return y * y + math.sin(x)


def test_value_and_grad():
    v, g = sg.value_and_grad(poly)(1.0, 2.0)
    assert v == pytest.approx(11.0, rel=1e-15)
    assert g == pytest.approx(10.0, rel=1e-15)
    v, (gx, gy) = sg.value_and_grad(poly, argnums=(0, 1))(1.0, 2.0)
    assert (v, gx, gy) == pytest.approx((11.0, 10.0, 6.0), rel=1e-15)


def test_vjp_of_scalar_function_is_v_times_grad():
    out, pullback = sg.vjp(branchy, 2.0, 0.25)
    assert out == pytest.approx(branchy(2.0, 0.25), rel=1e-15)
    gx, gy = sg.grad(branchy, argnums=(0, 1))(2.0, 0.25)
    for v in (1.0, 0.5, -3.0):
        px, py = pullback(v)
        assert (px, py) == pytest.approx((v * gx, v * gy), rel=1e-14)


def test_argnums_int_tuple_negative():
    gx = sg.grad(poly)(1.0, 2.0)
    gy = sg.grad(poly, argnums=1)(1.0, 2.0)
    gy_neg = sg.grad(poly, argnums=-1)(1.0, 2.0)
    both = sg.grad(poly, argnums=(0, -1))(1.0, 2.0)
    assert isinstance(gx, float) and isinstance(gy, float)
    assert (gx, gy, gy_neg) == pytest.approx((10.0, 6.0, 6.0), rel=1e-15)
    assert isinstance(both, tuple) and both == pytest.approx((10.0, 6.0), rel=1e-15)
    single = sg.grad(poly, argnums=(1,))(1.0, 2.0)
    assert isinstance(single, tuple) and single == pytest.approx((6.0,), rel=1e-15)


def test_decorator_forms():
    @sg.grad
    def dsq(x):
        return x * x * x

    @sg.grad(argnums=(0, 1))
    def dprod(x, y):
        return x * y * y

    assert dsq(2.0) == pytest.approx(12.0, rel=1e-15)
    assert dprod(2.0, 3.0) == pytest.approx((9.0, 12.0), rel=1e-15)


def test_source_and_ir():
    g = sg.grad(branchy, argnums=(0, 1))
    g(2.0, 0.25)
    src = g.source
    assert "x_bar" in src and "y_bar" in src
    assert "# L" in src and "a = x * y" in src  # user's line quoted in a comment
    line = branchy.__code__.co_firstlineno + 1
    assert f"# L{line}:" in src
    assert "def branchy_grad(x, y):" in src
    compile(src, "<generated>", "exec")  # valid Python
    ir = g.ir
    assert "func branchy(" in ir and "func branchy_grad(" in ir
    assert f"# L{line}" in ir


def test_show_prints_the_adjoint():
    buf = io.StringIO()
    text = sg.show(poly, file=buf)
    assert buf.getvalue().strip() == text.strip()
    assert "x_bar" in text and "def poly_grad" in text


def test_show_with_arguments():
    text = sg.show(poly, 1.0, 2.0, argnums=(0, 1), file=io.StringIO())
    assert "y_bar" in text


def test_python_backend_matches_cpu():
    from test_zoo_scalar import ZOO

    chosen = {"z_if_elif_else", "z_call_tuple", "z_augassign", "z_early_return", "z_int_arith",
              "z_atan2", "z_minmax3", "z_floor_ceil_round"}
    seen = 0
    for fn, argnums, points in ZOO:
        if fn.__name__ not in chosen:
            continue
        seen += 1
        cpu = sg.grad(fn, argnums=argnums)
        py = sg.grad(fn, argnums=argnums, backend="python")
        assert not isinstance(py, numba.core.dispatcher.Dispatcher)
        for args in points:
            assert py(*args) == pytest.approx(cpu(*args), rel=1e-13, abs=1e-15)
    assert seen == len(chosen)


def _loss(x, y):
    return (x - 1.5) ** 2 + 2.0 * (y + 0.5) ** 2 + 0.5 * x * y


_dloss = sg.grad(_loss, argnums=(0, 1))


@numba.njit
def _descend(x, y, lr, steps):
    for _ in range(steps):
        gx, gy = _dloss(x, y)
        x -= lr * gx
        y -= lr * gy
    return x, y


def test_gradient_called_from_user_njit_loop():
    x, y = _descend(0.0, 0.0, 0.1, 500)
    # stationary point of the quadratic: [[2, .5], [.5, 4]] @ [x, y] = [3, -2]
    det = 2.0 * 4.0 - 0.25
    ex, ey = (3.0 * 4.0 - 0.5 * -2.0) / det, (2.0 * -2.0 - 0.5 * 3.0) / det
    assert (x, y) == pytest.approx((ex, ey), rel=1e-10)
    gx, gy = _dloss(x, y)
    assert abs(gx) < 1e-10 and abs(gy) < 1e-10


def test_s07_example_gradient_descent():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    try:
        from examples.gradient_descent import f, minimise
    finally:
        sys.path.pop(0)
    assert minimise(f, 5.0) == pytest.approx(-1.5, abs=1e-9)


_DET_MODULE = textwrap.dedent("""
    import math

    import numpy as np

    K = 0.5


    def helper(u, v=2.0):
        return u * v, u + v


    def target(x, y, n):
        a, b = helper(x, v=y)
        s = 0.0
        if a > b and n > 1:
            s += np.exp(a) * K
        elif a < -1.0:
            s -= math.log1p(b * b)
        else:
            s = max(a, b, x) ** 2
        x = x * n
        return s + abs(x) / (1.0 + y * y)
""")


def _source_in_child(path, cache_dir):
    code = (f"import sys; sys.path.insert(0, {str(path)!r}); import detmod, srcgrad as sg; "
            "g = sg.grad(detmod.target, argnums=(0, 1)); "
            "sys.stdout.write(g.source_for(1.0, 2.0, 3))")
    env = dict(os.environ, SRCGRAD_CACHE_DIR=str(cache_dir))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=env).stdout


def test_generated_source_is_deterministic(tmp_path):
    (tmp_path / "detmod.py").write_text(_DET_MODULE)
    sys.path.insert(0, str(tmp_path))
    try:
        import detmod
    finally:
        sys.path.pop(0)
    types = [F64, F64, from_value(3)]
    sources = [Transform(detmod.target, "grad", (0, 1), True, "cpu", False).specialize(types).source
               for _ in range(2)]
    assert sources[0] == sources[1]
    child = _source_in_child(tmp_path, tmp_path / "cache-a")
    assert child == sources[0]
    assert _source_in_child(tmp_path, tmp_path / "cache-b") == child
    # and the gradient is right
    sg.check_grad(detmod.target, 1.0, 2.0, 3, argnums=(0, 1))
    sg.check_grad(detmod.target, -0.3, 0.4, 3, argnums=(0, 1))
    sg.check_grad(detmod.target, -2.5, 0.5, 1, argnums=(0, 1))
    sg.check_grad(detmod.target, 4.0, 1.5, 3, argnums=(0, 1))
    del sys.modules["detmod"]


def test_float32_and_int_inputs_give_python_scalars():
    g = sg.grad(poly, argnums=(0, 1))
    gx, gy = g(np.float32(1.0), np.float32(2.0))
    assert (gx, gy) == pytest.approx((10.0, 6.0), rel=1e-6)
