"""User-defined primitives: @srcgrad.adjoint(fn) rules and srcgrad.nondiff(fn)."""

import math

import numba
import numpy as np
import pytest

import srcgrad as sg
from srcgrad import custom, frontend


@numba.njit
def my_softplus(x):
    return np.log1p(np.exp(x))


@sg.adjoint(my_softplus)
def my_softplus_adj(g, ans, x):
    return g * (1.0 - np.exp(-ans))


def uses_softplus(x):
    return 2.0 * my_softplus(x) + x


def test_njit_function_with_rule_scalar():
    x = 0.3
    g = sg.grad(uses_softplus)(x)
    assert g == pytest.approx(2.0 / (1.0 + math.exp(-x)) + 1.0, rel=1e-14)
    sg.check_grad(uses_softplus, 0.3)
    sg.check_grad(uses_softplus, -2.5)
    # the generated code calls the user's compiled function; it does not inline its body
    src = sg.grad(uses_softplus).source
    assert "custom.user_my_softplus_" in src and "from srcgrad import custom" in src
    assert "log1p" not in src


def test_njit_function_with_rule_arrays_vjp():
    x = np.array([-1.0, 0.0, 0.5, 3.0])
    out, pull = sg.vjp(my_softplus_twice, x)
    np.testing.assert_allclose(out, 2.0 * np.log1p(np.exp(x)), rtol=1e-15)
    ct = np.array([1.0, 0.5, -2.0, 3.0])
    (gx,) = pull(ct)
    np.testing.assert_allclose(gx, ct * 2.0 / (1.0 + np.exp(-x)), rtol=1e-14)


def my_softplus_twice(x):
    return my_softplus(x) * 2.0


# A plain Python function with a numerically better derivative: the derivative srcgrad would
# derive from the source is 0/0 = nan at the origin; the rule returns the subgradient 0.
def radius(x, y):
    return np.sqrt(x * x + y * y)


@sg.adjoint(radius)
def radius_adj(g, ans, x, y):
    if ans > 0.0:
        s = g / ans
    else:
        s = 0.0 * g
    return s * x, s * y


def radius_loss(x, y):
    return 3.0 * radius(x, y)


def plain_radius_loss(x, y):
    return 3.0 * np.sqrt(x * x + y * y)


def test_python_function_with_better_derivative():
    gx, gy = sg.grad(radius_loss, argnums=(0, 1))(3.0, 4.0)
    assert (gx, gy) == pytest.approx((3.0 * 0.6, 3.0 * 0.8), rel=1e-15)
    gx, gy = sg.grad(radius_loss, argnums=(0, 1))(0.0, 0.0)
    assert (gx, gy) == (0.0, 0.0)
    with np.errstate(all="ignore"):  # what the rule is there to avoid
        assert math.isnan(sg.grad(plain_radius_loss)(0.0, 0.0))
    sg.check_grad(radius_loss, 1.5, -0.5, argnums=(0, 1))


@numba.njit
def ipow(x, n):
    r = 1.0
    for _ in range(n):
        r *= x
    return r


@sg.adjoint(ipow)
def ipow_adj(g, x, n):
    # the rule may call the user's function itself; the int exponent gets no cotangent
    return g * n * ipow(x, n - 1), None


def ipow_loss(x, n):
    return ipow(x, n) + x


def test_rule_with_nondiff_input_and_recursive_call():
    assert sg.grad(ipow_loss)(1.5, 3) == pytest.approx(3 * 1.5 ** 2 + 1.0, rel=1e-15)
    assert sg.value_and_grad(ipow_loss)(2.0, 4) == pytest.approx((18.0, 33.0), rel=1e-15)


def softplus_loop(x, n):
    acc = 0.0
    for i in range(n):
        acc = acc + my_softplus(x * i)
    return acc


def test_user_primitive_inside_a_loop():
    x, n = 0.7, 4
    expected = sum(i / (1.0 + math.exp(-x * i)) for i in range(n))
    assert sg.grad(softplus_loop)(x, n) == pytest.approx(expected, rel=1e-14)


@sg.nondiff
@numba.njit
def quantize(x):
    return np.floor(x * 10.0) / 10.0


def nondiff_python(x):
    return x * x * 100.0


sg.nondiff(nondiff_python)


def uses_quantize(x):
    return x * quantize(x) + nondiff_python(x)


def test_nondiff_marks_output_constant():
    x = 0.537
    # d/dx [x * q(x) + c(x)] with q, c constants = q(x)
    assert sg.grad(uses_quantize)(x) == pytest.approx(0.5, rel=1e-15)
    assert sg.jit(uses_quantize)(x) == pytest.approx(x * 0.5 + x * x * 100.0, rel=1e-15)

    def only_nondiff(y):
        return quantize(y)

    assert sg.grad(only_nondiff)(x) == 0.0


def _factory(fn):
    def f(x):
        return fn(x) + 0.0 * x

    return f


def test_cache_key_follows_the_rule():
    @numba.njit
    def cube(x):
        return x * x * x

    @sg.adjoint(cube)
    def cube_rule_a(g, x):
        return g * 3.0 * x * x

    f1 = _factory(cube)
    _, deps = frontend.lower(f1)
    name = custom.registered(cube)
    assert deps[f"custom:{name}:rule"] == custom._source_hash(cube_rule_a)
    assert sg.grad(f1)(2.0) == 12.0

    @sg.adjoint(cube)  # replace the rule (a deliberately different one): no stale code
    def cube_rule_b(g, x):
        return g * 100.0

    assert custom.registered(cube) != name
    f2 = _factory(cube)
    assert sg.grad(f2)(2.0) == 100.0
    # a gradient built before keeps its rule, also for new argument types
    assert sg.grad(f1)(np.float32(2.0)) == 12.0


def test_registration_errors():
    @numba.njit
    def two(x, y):
        return x * y

    with pytest.raises(ValueError, match="first parameter must be g"):
        @sg.adjoint(two)
        def bad_first(x, y):
            return x, y

    with pytest.raises(ValueError, match="takes 1 input"):
        @sg.adjoint(two)
        def bad_arity(g, x):
            return g

    with pytest.raises(ValueError, match="built-in primitive"):
        @sg.adjoint(np.exp)
        def exp_rule(g, ans, x):
            return g * ans


def not_numba_compatible(x):
    return x if object() else -x  # numba cannot type object()


sg.nondiff(not_numba_compatible)


def uses_incompatible(x):
    return x + not_numba_compatible(x)


def test_uncompilable_user_function_is_reported():
    with pytest.raises(sg.TypeInferenceError, match="not_numba_compatible"):
        sg.grad(uses_incompatible)(1.0)
