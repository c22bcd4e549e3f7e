"""Adjoint rules of the scalar / elementwise primitives (shapes are the output's shape)."""

import numpy as np

from srcgrad import runtime as rt

from . import adjoint_rule


@adjoint_rule("add")
def add(g, x, y):
    return g, g


@adjoint_rule("sub")
def sub(g, x, y):
    return g, -g


@adjoint_rule("mul")
def mul(g, x, y):
    return g * y, g * x


@adjoint_rule("truediv")
def truediv(g, ans, x, y):
    gx = g / y
    return gx, -gx * ans


@adjoint_rule("mod")
def mod(g, x, y):
    return g, -g * np.floor(x / y)


@adjoint_rule("pow")
def pow_(g, ans, x, y):
    return g * y * x ** (y - 1), g * ans * np.log(x)


@adjoint_rule("power")
def power(g, ans, x, y):
    return g * y * x ** (y - 1), g * ans * np.log(x)


@adjoint_rule("neg")
def neg(g, x):
    return -g


@adjoint_rule("pos")
def pos(g, x):
    return g


@adjoint_rule("copy")
def copy(g, x):
    return g


@adjoint_rule("copy_array")
def copy_array(g, x):
    return g


@adjoint_rule("full")
def full(g, shape, value):
    return None, np.sum(g)


@adjoint_rule("full_like")
def full_like(g, x, value):
    return None, np.sum(g)


@adjoint_rule("to_float")
def to_float(g, x):
    return g


@adjoint_rule("abs")
def abs_(g, x):
    return g * np.sign(x)


@adjoint_rule("maximum")
def maximum(g, x, y):
    # ties split the cotangent evenly, like JAX (written so float32 stays float32)
    half = 0.5 * g
    gx = half * (x > y) + half * (x >= y)
    return gx, g - gx


@adjoint_rule("minimum")
def minimum(g, x, y):
    half = 0.5 * g
    gx = half * (x < y) + half * (x <= y)
    return gx, g - gx


@adjoint_rule("exp")
def exp(g, ans, x):
    return g * ans


@adjoint_rule("exp2")
def exp2(g, ans, x):
    return g * ans * 0.6931471805599453  # log(2), a literal keeps float32


@adjoint_rule("expm1")
def expm1(g, ans, x):
    return g * (ans + 1.0)


@adjoint_rule("log")
def log(g, x):
    return g / x


@adjoint_rule("log1p")
def log1p(g, x):
    return g / (1.0 + x)


@adjoint_rule("log2")
def log2(g, x):
    return g / (x * 0.6931471805599453)


@adjoint_rule("log10")
def log10(g, x):
    return g / (x * 2.302585092994046)


@adjoint_rule("sqrt")
def sqrt(g, ans, x):
    return g / (2.0 * ans)


@adjoint_rule("cbrt")
def cbrt(g, ans, x):
    return g / (3.0 * ans * ans)


@adjoint_rule("square")
def square(g, x):
    return g * 2.0 * x


@adjoint_rule("sin")
def sin(g, x):
    return g * np.cos(x)


@adjoint_rule("cos")
def cos(g, x):
    return -g * np.sin(x)


@adjoint_rule("tan")
def tan(g, ans, x):
    return g * (1.0 + ans * ans)


@adjoint_rule("tanh")
def tanh(g, ans, x):
    return g * (1.0 - ans * ans)


@adjoint_rule("sinh")
def sinh(g, x):
    return g * np.cosh(x)


@adjoint_rule("cosh")
def cosh(g, x):
    return g * np.sinh(x)


@adjoint_rule("arcsin")
def arcsin(g, x):
    return g / np.sqrt(1.0 - x * x)


@adjoint_rule("arccos")
def arccos(g, x):
    return -g / np.sqrt(1.0 - x * x)


@adjoint_rule("arctan")
def arctan(g, x):
    return g / (1.0 + x * x)


@adjoint_rule("arcsinh")
def arcsinh(g, x):
    return g / np.sqrt(x * x + 1.0)


@adjoint_rule("arccosh")
def arccosh(g, x):
    return g / np.sqrt(x * x - 1.0)


@adjoint_rule("arctanh")
def arctanh(g, x):
    return g / (1.0 - x * x)


@adjoint_rule("arctan2")
def arctan2(g, y, x):
    d = x * x + y * y
    return g * x / d, -g * y / d


@adjoint_rule("hypot")
def hypot(g, ans, x, y):
    return g * x / ans, g * y / ans


@adjoint_rule("where")
def where(g, cond, x, y):
    return None, g * cond, g * np.logical_not(cond)


@adjoint_rule("clip")
def clip(g, x, lo, hi):
    return g * np.logical_and(x >= lo, x <= hi), g * (x < lo), g * (x > hi)


@adjoint_rule("astype")
def astype(g, x):
    return rt.cast_like(g, x)
