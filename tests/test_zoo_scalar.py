"""A zoo of scalar functions covering every construct of issue 2, each checked against finite
differences (`check_grad`, several points, both sides of every branch) and many against
hand-derived gradients."""

import math

import numpy as np
import pytest

import srcgrad as sg

SCALE = 2.5
OFFSET = -0.75


def make_closure(c):
    def closed(x):
        return c * x * x + SCALE

    return closed


# --- helpers called by zoo functions ------------------------------------------------------------

def helper_sq(x):
    return x * x


def helper_affine(x, a=2.0, b=1.0):
    return a * x + b


def helper_pair(x, y):
    return x * y, x + y


def helper_nested(x):
    return helper_sq(helper_affine(x, b=0.5)) + helper_sq(x)


def helper_branch(x):
    if x > 1.0:
        return x * x
    return -x


# --- the zoo ------------------------------------------------------------------------------------

def z_arith(x, y):
    return x * y + x / y - y + 3.0


def z_floordiv(x, y):
    return x * (x // y) + (y // 0.7)


def z_mod(x, y):
    return x % y + x * (y % 1.5)


def z_pow_int(x):
    return x ** 3 - 2 * x ** 2 + x ** 1


def z_pow_float(x):
    return x ** 2.5 + x ** 0.5


def z_pow_negbase(x):
    return x ** 3 + x ** -2 + (-x) ** 4


def z_pow_active(x, y):
    return x ** y


def z_neg(x, y):
    return -x * y + -(x - y)


def z_abs(x, y):
    return abs(x) * y + abs(x - y)


def z_minmax2(x, y):
    return min(x, y) * 2.0 + max(x, y)


def z_minmax3(x, y, z):
    return max(x, y, z) - min(x, y, z) * 0.5


def z_and(x, y):
    if x > 0 and y > 0:
        return x * y
    return x + y


def z_or_not(x, y):
    if not (x > 0) or y < -1.0:
        return x * x
    return y * x * 3.0


def z_chained(x):
    if 0.0 < x < 1.0:
        return x * x
    return 2.0 * x - 1.0


def z_eq_ne(x, y):
    if x != y and not x == 0.0:
        return x * y
    return x


def z_if_elif_else(x):
    if x < -1.0:
        y = -x
    elif x < 1.0:
        y = x * x
    else:
        y = math.exp(x)
    return y * 2.0


def z_ternary(x, y):
    return x * y if x > y else x + y * y


def z_exp_log(x):
    return math.exp(x) * math.log(x) + np.exp(-x) + np.log(x + 1.0)


def z_log1p_expm1(x):
    return math.log1p(x) + np.expm1(x) - np.log1p(x * x) + math.expm1(-x)


def z_sqrt(x):
    return math.sqrt(x) + np.sqrt(x * x + 1.0)


def z_trig(x):
    return math.sin(x) * np.cos(x) + np.tan(x) - math.cos(2.0 * x)


def z_hyperbolic(x):
    return np.tanh(x) + math.sinh(x) * np.cosh(x) + math.tanh(2 * x)


def z_inverse_trig(x):
    return np.arcsin(x) + math.acos(x) * 2.0 + np.arctan(x) + math.atan(3 * x)


def z_atan2(x, y):
    return np.arctan2(x, y) + math.atan2(y, x * x + 1.0)


def z_hypot(x, y):
    return np.hypot(x, y) + math.hypot(x, 2.0)


def z_power(x, y):
    return np.power(x, 3) + np.power(x, y) + math.pow(y, 2.0)


def z_maximum_minimum(x, y):
    return np.maximum(x, y) * np.minimum(x, 2.0 * y)


def z_floor_ceil_round(x):
    return x * math.floor(x) + np.ceil(x) * x + round(x) + np.floor(x * 3.0)


def z_int_arg(x, n):
    return x ** n + n * x


def z_int_arith(x, n):
    k = n * 3 + n // 2 - n % 3
    m = -k + abs(n) + max(n, 2)
    return x * k + m * x * x


def z_int_cast(x):
    k = int(x)
    return x * k + float(k) * x


def z_global(x):
    return SCALE * x * x + OFFSET * x


z_closure = make_closure(1.5)


def z_tuple_unpack(x, y):
    a, b = x * y, x + y
    return a * b


def z_swap(x, y):
    a, b = x, y * 2.0
    a, b = b, a
    return a * a + 3.0 * b


def z_multi_assign(x):
    a = b = x * 2.0
    a = a * x
    return a + b * b


def z_augassign(x, y):
    s = x
    s += y
    s *= x
    s -= y * y
    s /= (x * x + 1.0)
    s **= 2
    return s


def z_call_nested(x):
    return helper_nested(x) * 0.5


def z_call_kwargs(x, y):
    return helper_affine(x, b=y) + helper_affine(y, a=x) + helper_affine(x)


def z_call_tuple(x, y):
    p, s = helper_pair(x, y)
    return p * s + helper_pair(s, p)[0] if x > 10.0 else p * s


def z_call_branch(x):
    return helper_branch(x) + helper_branch(x * 0.5)


def z_early_return(x, y):
    if x > 2.0:
        return x * y
    z = x * x
    if z > 1.0:
        return z * y
    return z + y


def z_stop_gradient(x, y):
    c = sg.stop_gradient(x * y)
    return c * x + y


def z_reassign_param(x):
    x = x * 2.0
    x = x + 1.0
    return x * x


def z_reuse(x):
    a = x * x
    b = a * x + a
    c = b * a - x + b
    return a * b * c + a + b + c + x * a


def z_mixed_math_np(x, y):
    return np.sin(x) * math.exp(y) + np.log(math.cosh(x * y))


def z_bool_var(x):
    big = x > 1.5
    small = x < -1.5
    if big or small:
        return x * x * x
    return x


def z_nested_if(x, y):
    if x > 0.0:
        if y > 0.0:
            r = x * y
        else:
            r = x - y
    else:
        r = y * y if y > x else x * x
    return r


def z_const_int_ops(x):
    return (x + 1) * 2 - 3 / x + 7 // 2 * x


def z_division_chain(x, y):
    return x / y / (x + y) / 2.0


def z_exp_compose(x):
    return np.exp(np.sin(np.log(x * x + 1.0)))


def z_abs_min_max(x, y):
    return abs(min(x, -y)) + max(abs(x), abs(y))


def z_aug_floor_mod(x):
    s = x * 7.0
    s //= 2.0
    s %= 1.5
    return s * x


def z_min_max_int_literals(x):
    return min(x, 1) + max(2, x, 0)


def z_same_operand(x):
    return x * x + x / x + (x - x) + x ** x


def z_shadow_global(x):
    SCALE = x * 2.0  # noqa: N806  (a local that shadows the global)
    return SCALE * SCALE


def z_int_condition(x, n):
    if n > 2:
        return x * n
    return x - n


def z_neg_self(x):
    x = -x
    x += x
    x = x * x
    return x


def z_swap_params(x, y):
    x, y = y, x * 2.0
    return x * y * y


def z_call_all_keywords(x, y):
    return helper_affine(b=y, a=x, x=x * x) + helper_affine(x, 3.0)


def z_int_or_float_branches(x):
    k = 1 if x > 0 else 2.5
    y = x if x > 0 else 0
    return k * x + y * x


def z_bool_arith(x):
    return x * (x > 0) + 2.0 * x * (x <= 0)


def z_pow_int_var(x, n):
    return x ** n + x ** (n - 1) + 2 ** n * x


def z_log_base(x):
    return math.log(x, 2.0) + math.log(x * x) + np.log2(x) + np.log10(x)


def z_more_unary(x):
    return np.square(x) + np.cbrt(x) + np.exp2(x) + np.arcsinh(x) + np.arctanh(x * 0.3)


def z_safe_division(x):
    if x != 0.0:
        return math.sin(x) / x
    return 1.0


def z_independent(x, y):
    return y * 2.0 + math.floor(x)


# (function, argnums, points): every branch has a point on each side
ZOO = [
    (z_arith, (0, 1), [(1.3, 0.7), (-2.0, 3.1)]),
    (z_floordiv, (0, 1), [(1.3, 0.5), (-2.1, 0.9)]),
    (z_mod, (0, 1), [(4.3, 1.7), (-2.2, 0.9)]),
    (z_pow_int, (0,), [(1.3,), (-0.8,)]),
    (z_pow_float, (0,), [(1.3,), (0.4,)]),
    (z_pow_negbase, (0,), [(-1.7,), (0.9,), (-0.6,)]),
    (z_pow_active, (0, 1), [(1.3, 2.2), (0.5, -1.5)]),
    (z_neg, (0, 1), [(1.3, -0.7)]),
    (z_abs, (0, 1), [(1.3, 0.5), (-1.3, 0.5), (0.3, 1.1)]),
    (z_minmax2, (0, 1), [(1.3, 0.5), (-1.3, 0.5)]),
    (z_minmax3, (0, 1, 2), [(1.3, 0.5, 0.1), (-1.3, 0.5, 2.0), (0.2, -0.5, -0.1)]),
    (z_and, (0, 1), [(1.3, 0.5), (-1.3, 0.5), (1.3, -0.5)]),
    (z_or_not, (0, 1), [(1.3, 0.5), (-1.3, 0.5), (1.3, -2.5)]),
    (z_chained, (0,), [(0.5,), (1.5,), (-0.5,)]),
    (z_eq_ne, (0, 1), [(1.3, 0.5), (-0.7, 0.2)]),  # x == y: measure zero, see KNOWN
    (z_if_elif_else, (0,), [(-1.5,), (0.3,), (1.7,)]),
    (z_ternary, (0, 1), [(1.3, 0.5), (0.2, 0.5)]),
    (z_exp_log, (0,), [(1.3,), (0.4,)]),
    (z_log1p_expm1, (0,), [(1.3,), (-0.4,)]),
    (z_sqrt, (0,), [(1.3,), (0.2,)]),
    (z_trig, (0,), [(0.3,), (-1.1,)]),
    (z_hyperbolic, (0,), [(0.3,), (-1.1,)]),
    (z_inverse_trig, (0,), [(0.3,), (-0.6,)]),
    (z_atan2, (0, 1), [(0.3, 1.2), (-1.1, -0.4)]),
    (z_hypot, (0, 1), [(0.3, 1.2), (-1.1, -0.4)]),
    (z_power, (0, 1), [(1.3, 1.2), (0.6, -0.4)]),
    (z_maximum_minimum, (0, 1), [(1.3, 0.2), (0.3, 1.0), (-0.5, -0.4)]),
    (z_floor_ceil_round, (0,), [(1.3,), (-2.2,)]),
    (z_int_arg, (0,), [(1.3, 3), (-0.7, 2)]),
    (z_int_arith, (0,), [(1.3, 7), (-0.7, -4)]),
    (z_int_cast, (0,), [(2.3,), (-1.6,)]),
    (z_global, (0,), [(1.3,)]),
    (z_closure, (0,), [(1.3,), (-0.2,)]),
    (z_tuple_unpack, (0, 1), [(1.3, 0.4)]),
    (z_swap, (0, 1), [(1.3, 0.4)]),
    (z_multi_assign, (0,), [(1.3,)]),
    (z_augassign, (0, 1), [(1.3, 0.4), (-0.5, 2.0)]),
    (z_call_nested, (0,), [(1.3,), (-0.4,)]),
    (z_call_kwargs, (0, 1), [(1.3, 0.4)]),
    (z_call_tuple, (0, 1), [(11.0, 0.4), (1.3, -0.4)]),
    (z_call_branch, (0,), [(3.0,), (1.5,), (0.5,)]),
    (z_early_return, (0, 1), [(2.5, 0.4), (1.5, -0.4), (0.5, 0.7)]),
    (z_reassign_param, (0,), [(1.3,)]),
    (z_reuse, (0,), [(0.9,), (-0.6,)]),
    (z_mixed_math_np, (0, 1), [(0.3, 0.8)]),
    (z_bool_var, (0,), [(2.0,), (-2.0,), (0.5,)]),
    (z_nested_if, (0, 1), [(1.0, 2.0), (1.0, -2.0), (-1.0, 2.0), (-1.0, -2.0)]),
    (z_const_int_ops, (0,), [(1.3,)]),
    (z_division_chain, (0, 1), [(1.3, 0.4)]),
    (z_exp_compose, (0,), [(0.7,)]),
    (z_abs_min_max, (0, 1), [(1.3, 0.4), (-1.3, 2.0)]),
    (z_aug_floor_mod, (0,), [(1.3,), (-0.9,)]),
    (z_min_max_int_literals, (0,), [(0.3,), (1.5,), (2.5,)]),
    (z_same_operand, (0,), [(1.3,)]),
    (z_shadow_global, (0,), [(1.3,)]),
    (z_int_condition, (0,), [(1.3, 3), (1.3, 1)]),
    (z_neg_self, (0,), [(1.3,)]),
    (z_swap_params, (0, 1), [(1.3, 0.7)]),
    (z_call_all_keywords, (0, 1), [(1.3, 0.7)]),
    (z_int_or_float_branches, (0,), [(1.3,), (-1.3,)]),
    (z_bool_arith, (0,), [(1.3,), (-1.3,)]),
    (z_pow_int_var, (0,), [(1.3, 3), (-1.3, 2), (0.7, 0)]),
    (z_log_base, (0,), [(1.3,), (0.2,)]),
    (z_more_unary, (0,), [(0.6,), (-1.1,)]),
    (z_safe_division, (0,), [(0.5,), (-2.0,)]),
    (z_independent, (0, 1), [(1.3, 0.7)]),
]


def test_zoo_is_big_enough():
    assert len(ZOO) >= 45


@pytest.mark.parametrize("fn,argnums,points", ZOO, ids=[e[0].__name__ for e in ZOO])
def test_zoo_check_grad(fn, argnums, points):
    for args in points:
        sg.check_grad(fn, *args, argnums=argnums)


# --- hand-derived values ------------------------------------------------------------------------

def _g(fn, argnums, *args):
    """The gradient tuple through the same transform the zoo test compiled."""
    return sg.grad(fn, argnums=argnums)(*args)


KNOWN = [
    (z_arith, (0, 1), (1.5, 0.5), (0.5 + 1 / 0.5, 1.5 - 1.5 / 0.25 - 1.0)),
    (z_pow_int, (0,), (2.0,), (3 * 4.0 - 4 * 2.0 + 1.0,)),
    (z_pow_float, (0,), (4.0,), (2.5 * 4.0 ** 1.5 + 0.5 / 2.0,)),
    (z_pow_negbase, (0,), (-2.0,), (3 * 4.0 + (-2) * (-2.0) ** -3 + 4 * (-2.0) ** 3,)),
    (z_pow_active, (0, 1), (2.0, 3.0), (12.0, 8.0 * math.log(2.0))),
    (z_abs, (0, 1), (-2.0, 3.0), (-3.0 - 1.0, 2.0 + 1.0)),
    (z_minmax2, (0, 1), (1.0, 3.0), (2.0, 1.0)),
    (z_minmax3, (0, 1, 2), (1.0, 3.0, -1.0), (0.0, 1.0, -0.5)),
    (z_and, (0, 1), (2.0, 3.0), (3.0, 2.0)),
    (z_and, (0, 1), (-2.0, 3.0), (1.0, 1.0)),
    (z_chained, (0,), (0.5,), (1.0,)),
    (z_chained, (0,), (1.5,), (2.0,)),
    (z_if_elif_else, (0,), (-2.0,), (-2.0,)),
    (z_if_elif_else, (0,), (0.5,), (2.0,)),
    (z_if_elif_else, (0,), (2.0,), (2.0 * math.exp(2.0),)),
    (z_ternary, (0, 1), (3.0, 2.0), (2.0, 3.0)),
    (z_ternary, (0, 1), (1.0, 2.0), (1.0, 4.0)),
    (z_sqrt, (0,), (4.0,), (0.25 + 4.0 / math.sqrt(17.0),)),
    (z_atan2, (0, 1), (1.0, 1.0), (0.5 + (-1.0) * 2.0 / 5.0, -0.5 + 2.0 / 5.0)),
    (z_hypot, (0, 1), (3.0, 4.0), (0.6 + 3.0 / math.sqrt(13.0), 0.8)),
    (z_floor_ceil_round, (0,), (1.3,), (1.0 + 2.0,)),
    (z_int_arg, (0,), (2.0, 3), (12.0 + 3.0,)),
    (z_int_arith, (0,), (2.0, 7), (7 * 3 + 3 - 1 + 2 * (-(21 + 3 - 1) + 7 + 7) * 2.0,)),
    (z_int_cast, (0,), (2.5,), (4.0,)),
    (z_global, (0,), (2.0,), (2 * SCALE * 2.0 + OFFSET,)),
    (z_closure, (0,), (2.0,), (6.0,)),
    (z_tuple_unpack, (0, 1), (2.0, 3.0), (3.0 * 5.0 + 6.0, 2.0 * 5.0 + 6.0)),
    (z_swap, (0, 1), (2.0, 3.0), (3.0, 24.0)),
    (z_multi_assign, (0,), (3.0,), (4 * 3.0 + 8 * 3.0,)),
    (z_call_kwargs, (0, 1), (2.0, 3.0), (2.0 + 3.0 + 2.0, 1.0 + 2.0)),
    (z_early_return, (0, 1), (3.0, 2.0), (2.0, 3.0)),
    (z_early_return, (0, 1), (1.5, 2.0), (2 * 1.5 * 2.0, 2.25)),
    (z_early_return, (0, 1), (0.5, 2.0), (1.0, 1.0)),
    (z_stop_gradient, (0, 1), (2.0, 3.0), (6.0, 1.0)),
    (z_reassign_param, (0,), (1.0,), (12.0,)),
    (z_bool_var, (0,), (2.0,), (12.0,)),
    (z_bool_var, (0,), (1.0,), (1.0,)),
    (z_nested_if, (0, 1), (-1.0, -2.0), (-2.0, 0.0)),
    (z_eq_ne, (0, 1), (0.7, 0.7), (1.0, 0.0)),
    (z_eq_ne, (0, 1), (0.0, 0.7), (1.0, 0.0)),
    (z_eq_ne, (0, 1), (0.5, 0.7), (0.7, 0.5)),
    (z_independent, (0, 1), (1.3, 0.7), (0.0, 2.0)),
    (z_safe_division, (0,), (0.0,), (0.0,)),
    (z_int_condition, (0,), (1.3, 3), (3.0,)),
    (z_int_condition, (0,), (1.3, 1), (1.0,)),
    (z_neg_self, (0,), (1.5,), (8 * 1.5,)),
    (z_swap_params, (0, 1), (1.5, 0.5), (8 * 1.5 * 0.5, 4 * 1.5 * 1.5)),
    (z_log_base, (0,), (2.0,), (1 / (2.0 * math.log(2.0)) + 1.0 + 1 / (2.0 * math.log(2.0))
                                 + 1 / (2.0 * math.log(10.0)),)),
    (z_pow_int_var, (0,), (2.0, 3), (12.0 + 4.0 + 8.0,)),
    (z_min_max_int_literals, (0,), (0.5,), (1.0,)),
    (z_min_max_int_literals, (0,), (1.5,), (0.0,)),
    (z_int_or_float_branches, (0,), (-2.0,), (2.5,)),
    (z_int_or_float_branches, (0,), (2.0,), (1.0 + 4.0,)),
]


@pytest.mark.parametrize("fn,argnums,args,expected", KNOWN,
                         ids=[f"{e[0].__name__}-{i}" for i, e in enumerate(KNOWN)])
def test_zoo_known_values(fn, argnums, args, expected):
    got = _g(fn, argnums, *args)
    assert tuple(got) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def _stop_gradient_reference(x, y, c):
    return c * x + y


def test_stop_gradient_matches_constant_reference():
    # finite differences cannot see stop_gradient: compare with c passed in as a constant
    for x, y in [(1.3, 0.4), (-0.5, 2.0)]:
        got = sg.grad(z_stop_gradient, argnums=(0, 1))(x, y)
        ref = sg.grad(_stop_gradient_reference, argnums=(0, 1))(x, y, x * y)
        assert tuple(got) == pytest.approx(tuple(ref), rel=1e-15)
        assert tuple(got) == pytest.approx((x * y, 1.0), rel=1e-15)
    sg.check_grad(_stop_gradient_reference, 1.3, 0.4, 0.52, argnums=(0, 1))


def test_lambda_passed_to_grad():
    g = sg.grad(lambda x: x * x)
    assert g(3.0) == pytest.approx(6.0, rel=1e-15)
    sg.check_grad(lambda x: x * x * x - x, 1.3)


def test_njit_function_passed_to_grad():
    import numba

    @numba.njit
    def f(x, y):
        return x * x * y + np.sin(y)

    gx, gy = sg.grad(f, argnums=(0, 1))(2.0, 0.5)
    assert (gx, gy) == pytest.approx((2.0, 4.0 + math.cos(0.5)), rel=1e-14)
    sg.check_grad(f, 2.0, 0.5, argnums=(0, 1))


def test_int_to_negative_int_power_raises_instead_of_returning_zero():
    # Python: 2 ** -2 == 0.25; numba's int ** int silently gives 0; srcgrad raises
    g = sg.grad(z_pow_int_var)
    with pytest.raises(ValueError, match="negative"):
        g(1.3, -2)
