"""Adjoint rules of the linear-algebra primitives (matrix products go to BLAS)."""

import numpy as np

from srcgrad import runtime as rt

from . import adjoint_rule


@adjoint_rule("matmul")
def matmul(g, a, b):
    return rt.matmul_adj_a(g, a, b), rt.matmul_adj_b(g, a, b)


@adjoint_rule("outer")
def outer(g, a, b):
    return np.dot(g, b), np.dot(a, g)


@adjoint_rule("diag")
def diag(g, x):
    return rt.diag_adj(g, x)


@adjoint_rule("trace")
def trace(g, x):
    return rt.trace_adj(g, x)


@adjoint_rule("solve")
def solve(g, ans, a, b):
    # x = a^-1 b:  b_bar = a^-T g,  a_bar = -b_bar x^T (an outer product for a vector b)
    gb = np.linalg.solve(np.transpose(a), g)
    return -rt.matmul_adj_a(gb, a, ans), gb


@adjoint_rule("inv")
def inv(g, ans, a):
    # y = a^-1:  a_bar = -y^T g y^T
    yt = np.transpose(ans)
    return -np.dot(np.dot(yt, g), yt)


@adjoint_rule("det")
def det(g, ans, a):
    # d = det(a):  a_bar = g d a^-T
    return (g * ans) * np.transpose(np.linalg.inv(a))
