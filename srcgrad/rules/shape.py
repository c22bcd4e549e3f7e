"""Adjoint rules of the shape primitives: transpose, reshape, ravel, expand_dims/squeeze,
concatenate (its cotangent splits into views of g), and of np.linspace."""

import numpy as np

from srcgrad import runtime as rt

from . import adjoint_rule


@adjoint_rule("transpose")
def transpose(g, x):
    return np.transpose(g)


@adjoint_rule("transpose_axes")
def transpose_axes(g, x, axes):
    return rt.transpose_back(g, axes), None


@adjoint_rule("reshape")
def reshape(g, x, shape):
    return np.reshape(g, np.shape(x)), None


@adjoint_rule("ravel")
def ravel(g, x):
    return np.reshape(g, np.shape(x))


@adjoint_rule("cumsum")
def cumsum(g, x):
    # output k sums inputs 0..k: input j receives the cotangents of outputs j..end
    return np.reshape(np.cumsum(g[::-1])[::-1], np.shape(x))


@adjoint_rule("flip")
def flip(g, x):
    return np.flip(g)


@adjoint_rule("tril")
def tril(g, x, k):
    return np.tril(g, k), None


@adjoint_rule("triu")
def triu(g, x, k):
    return np.triu(g, k), None


@adjoint_rule("roll")
def roll(g, x, shift):
    return np.roll(g, -shift), None


@adjoint_rule("flatten")
def flatten(g, x):
    return np.reshape(g, np.shape(x))


@adjoint_rule("expand_dims")
def expand_dims(g, x, axis):
    return rt.squeeze_axis(g, axis), None


@adjoint_rule("squeeze")
def squeeze(g, x, axis):
    return rt.expand_dims_axis(g, axis), None


@adjoint_rule("concat2")
def concat2(g, a, b, axis):
    return rt.concat_adj_a(g, a, axis), rt.concat_adj_b(g, a, axis), None


@adjoint_rule("linspace")
def linspace(g, start, stop, num):
    t = np.linspace(0.0, 1.0, num)
    g_stop = np.sum(g * t)
    return np.sum(g) - g_stop, g_stop, None
