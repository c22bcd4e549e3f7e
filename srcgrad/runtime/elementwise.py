"""Whole-array elementwise operations as cached functions (``rt.ew.mul(a, b)``).

numba compiles every whole-array expression of a function through a complete compiler
pipeline of its own (and again in every process); a generated gradient has dozens of them.
Codegen calls these instead when an operation's result is a float array: each signature is
compiled once per machine, and later processes load its machine code from numba's cache.
The body is the expression itself, so results (broadcasting, dtypes) are numba's.
"""

import numba
import numpy as np

_jit = numba.njit(cache=True, error_model="numpy", nogil=True)


@_jit
def add(a, b):
    return a + b


@_jit
def sub(a, b):
    return a - b


@_jit
def mul(a, b):
    return a * b


@_jit
def truediv(a, b):
    return a / b


@_jit
def pow(a, b):
    return a ** b


@_jit
def power(a, b):
    return np.power(a, b)


@_jit
def maximum(a, b):
    return np.maximum(a, b)


@_jit
def minimum(a, b):
    return np.minimum(a, b)


@_jit
def arctan2(a, b):
    return np.arctan2(a, b)


@_jit
def hypot(a, b):
    return np.hypot(a, b)


@_jit
def neg(a):
    return -a


@_jit
def abs(a):
    return np.abs(a)


@_jit
def exp(a):
    return np.exp(a)


@_jit
def log(a):
    return np.log(a)


@_jit
def log1p(a):
    return np.log1p(a)


@_jit
def expm1(a):
    return np.expm1(a)


@_jit
def sqrt(a):
    return np.sqrt(a)


@_jit
def sin(a):
    return np.sin(a)


@_jit
def cos(a):
    return np.cos(a)


@_jit
def tan(a):
    return np.tan(a)


@_jit
def tanh(a):
    return np.tanh(a)


@_jit
def sinh(a):
    return np.sinh(a)


@_jit
def cosh(a):
    return np.cosh(a)


@_jit
def arcsin(a):
    return np.arcsin(a)


@_jit
def arccos(a):
    return np.arccos(a)


@_jit
def arctan(a):
    return np.arctan(a)


@_jit
def arcsinh(a):
    return np.arcsinh(a)


@_jit
def arccosh(a):
    return np.arccosh(a)


@_jit
def arctanh(a):
    return np.arctanh(a)


@_jit
def log2(a):
    return np.log2(a)


@_jit
def log10(a):
    return np.log10(a)


@_jit
def exp2(a):
    return np.exp2(a)


@_jit
def square(a):
    return np.square(a)


@_jit
def cbrt(a):
    return np.cbrt(a)


BINARY = ("add", "sub", "mul", "truediv", "pow", "power", "maximum", "minimum", "arctan2", "hypot")
UNARY = ("neg", "abs", "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "sinh", "cosh",
         "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "log2", "log10", "exp2", "square", "cbrt")
