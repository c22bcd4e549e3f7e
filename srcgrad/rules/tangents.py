"""Tangent (forward-mode) rules: one runnable function per primitive, in srcgrad's own subset.

A rule is registered with ``@tangent_rule("exp")`` and takes optionally ``ans`` (the primal
output), then the primal inputs in order, then one tangent per input (``x_dot``); it returns the
output's tangent.  `srcgrad.forward` inlines the rule's IR next to the primal statement; the
tangent of an input that carries none (a constant, an integer) is bound to the constant 0.0 and
the products and sums it enters are simplified away while inlining, so a rule is written once for
the fully active case.  A rule may return a tangent of a smaller (broadcastable) shape when some
inputs are inactive; the transformer broadcasts it to the output's shape.

Primitives that are linear in their array operand (indexing, reductions, reshapes) need no rule:
`srcgrad.forward` applies the primitive itself to the tangent.
"""

from __future__ import annotations

import inspect

import numpy as np

from srcgrad import runtime as rt

from . import Rule

TANGENTS: dict = {}


def tangent_rule(prim: str):
    """Register ``fn`` as the tangent rule of primitive ``prim``."""

    def register(fn):
        params = list(inspect.signature(fn).parameters)
        uses_ans = bool(params) and params[0] == "ans"
        n = len(params) - uses_ans
        if n % 2 or not all(p.endswith("_dot") for p in params[len(params) - n // 2:]):
            raise ValueError(f"tangent rule for {prim!r}: parameters must be [ans,] inputs..., "
                             "then one *_dot tangent per input")
        if prim in TANGENTS:
            raise ValueError(f"primitive {prim!r} already has a tangent rule")
        TANGENTS[prim] = Rule(prim, fn, uses_ans)
        return fn

    return register


@tangent_rule("add")
def add(x, y, x_dot, y_dot):
    return x_dot + y_dot


@tangent_rule("sub")
def sub(x, y, x_dot, y_dot):
    return x_dot - y_dot


@tangent_rule("mul")
def mul(x, y, x_dot, y_dot):
    return x_dot * y + x * y_dot


@tangent_rule("truediv")
def truediv(ans, x, y, x_dot, y_dot):
    return (x_dot - ans * y_dot) / y


@tangent_rule("mod")
def mod(x, y, x_dot, y_dot):
    return x_dot - y_dot * np.floor(x / y)


@tangent_rule("pow")
def pow_(ans, x, y, x_dot, y_dot):
    return x_dot * y * x ** (y - 1) + y_dot * ans * np.log(x)


@tangent_rule("power")
def power(ans, x, y, x_dot, y_dot):
    return x_dot * y * x ** (y - 1) + y_dot * ans * np.log(x)


@tangent_rule("neg")
def neg(x, x_dot):
    return -x_dot


@tangent_rule("pos")
def pos(x, x_dot):
    return x_dot


@tangent_rule("copy")
def copy(x, x_dot):
    return x_dot


@tangent_rule("copy_array")
def copy_array(x, x_dot):
    return x_dot.copy()


@tangent_rule("full")
def full(shape, value, shape_dot, value_dot):
    return np.full(shape, value_dot)


@tangent_rule("full_like")
def full_like(x, value, x_dot, value_dot):
    return np.full_like(x, value_dot)


@tangent_rule("to_float")
def to_float(x, x_dot):
    return x_dot


@tangent_rule("abs")
def abs_(x, x_dot):
    return x_dot * np.sign(x)


@tangent_rule("maximum")
def maximum(x, y, x_dot, y_dot):
    wx = (x > y) + 0.5 * (x == y)
    return x_dot * wx + y_dot * (1.0 - wx)


@tangent_rule("minimum")
def minimum(x, y, x_dot, y_dot):
    wx = (x < y) + 0.5 * (x == y)
    return x_dot * wx + y_dot * (1.0 - wx)


@tangent_rule("exp")
def exp(ans, x, x_dot):
    return ans * x_dot


@tangent_rule("exp2")
def exp2(ans, x, x_dot):
    return ans * np.log(2.0) * x_dot


@tangent_rule("expm1")
def expm1(ans, x, x_dot):
    return (ans + 1.0) * x_dot


@tangent_rule("log")
def log(x, x_dot):
    return x_dot / x


@tangent_rule("log1p")
def log1p(x, x_dot):
    return x_dot / (1.0 + x)


@tangent_rule("log2")
def log2(x, x_dot):
    return x_dot / (x * np.log(2.0))


@tangent_rule("log10")
def log10(x, x_dot):
    return x_dot / (x * np.log(10.0))


@tangent_rule("sqrt")
def sqrt(ans, x, x_dot):
    return x_dot / (2.0 * ans)


@tangent_rule("cbrt")
def cbrt(ans, x, x_dot):
    return x_dot / (3.0 * ans * ans)


@tangent_rule("square")
def square(x, x_dot):
    return 2.0 * x * x_dot


@tangent_rule("sin")
def sin(x, x_dot):
    return np.cos(x) * x_dot


@tangent_rule("cos")
def cos(x, x_dot):
    return -np.sin(x) * x_dot


@tangent_rule("tan")
def tan(ans, x, x_dot):
    return (1.0 + ans * ans) * x_dot


@tangent_rule("tanh")
def tanh(ans, x, x_dot):
    return (1.0 - ans * ans) * x_dot


@tangent_rule("sinh")
def sinh(x, x_dot):
    return np.cosh(x) * x_dot


@tangent_rule("cosh")
def cosh(x, x_dot):
    return np.sinh(x) * x_dot


@tangent_rule("arcsin")
def arcsin(x, x_dot):
    return x_dot / np.sqrt(1.0 - x * x)


@tangent_rule("arccos")
def arccos(x, x_dot):
    return -x_dot / np.sqrt(1.0 - x * x)


@tangent_rule("arctan")
def arctan(x, x_dot):
    return x_dot / (1.0 + x * x)


@tangent_rule("arcsinh")
def arcsinh(x, x_dot):
    return x_dot / np.sqrt(x * x + 1.0)


@tangent_rule("arccosh")
def arccosh(x, x_dot):
    return x_dot / np.sqrt(x * x - 1.0)


@tangent_rule("arctanh")
def arctanh(x, x_dot):
    return x_dot / (1.0 - x * x)


@tangent_rule("arctan2")
def arctan2(y, x, y_dot, x_dot):
    return (x * y_dot - y * x_dot) / (x * x + y * y)


@tangent_rule("hypot")
def hypot(ans, x, y, x_dot, y_dot):
    return (x * x_dot + y * y_dot) / ans


@tangent_rule("where")
def where(cond, x, y, cond_dot, x_dot, y_dot):
    return np.where(cond, x_dot, y_dot)


@tangent_rule("clip")
def clip(x, lo, hi, x_dot, lo_dot, hi_dot):
    return x_dot * np.logical_and(x >= lo, x <= hi) + lo_dot * (x < lo) + hi_dot * (x > hi)


@tangent_rule("linspace")
def linspace(start, stop, num, start_dot, stop_dot, num_dot):
    t = np.linspace(0.0, 1.0, num)
    return start_dot * (1.0 - t) + stop_dot * t


@tangent_rule("max")
def max_(ans, x, x_dot):
    return np.sum(x_dot * rt.argmax_mask(x, ans, None, False))


@tangent_rule("min")
def min_(ans, x, x_dot):
    return np.sum(x_dot * rt.argmax_mask(x, ans, None, False))


@tangent_rule("prod")
def prod(x, x_dot):
    return np.sum(x_dot * rt.prod_others(x, None))


@tangent_rule("norm")
def norm(ans, x, x_dot):
    # at x == 0 the subgradient 0, as in the adjoint
    return np.sum(x * x_dot) / (ans + (ans == 0.0))


@tangent_rule("inv")
def inv(ans, a, a_dot):
    return -np.dot(np.dot(ans, a_dot), ans)


@tangent_rule("det")
def det(ans, a, a_dot):
    return ans * np.trace(np.linalg.solve(a, a_dot))


@tangent_rule("solve")
def solve(ans, a, b, a_dot, b_dot):
    return np.linalg.solve(a, b_dot - np.dot(a_dot, ans))
