"""Adjoint rules of the reductions (np.sum/mean/max/min/prod, np.linalg.norm).

``axis`` and ``keepdims`` arrive as constant inputs; ``rt.expand_reduced`` broadcasts a reduced
cotangent back to the input's shape.  max/min share the cotangent evenly among tied maxima
(like JAX); prod uses products of the other elements, so zeros in the input are fine.
"""


from srcgrad import runtime as rt

from . import adjoint_rule


@adjoint_rule("sum")
def sum_(g, x):
    return rt.fill_like(x, g)


@adjoint_rule("sum_axis")
def sum_axis(g, x, axis, keepdims):
    return rt.expand_reduced(g, x, axis, keepdims), None, None


@adjoint_rule("mean")
def mean(g, x):
    return rt.mean_fill(x, g)


@adjoint_rule("mean_axis")
def mean_axis(g, ans, x, axis, keepdims):
    return rt.mean_scale(rt.expand_reduced(g, x, axis, keepdims), x, ans), None, None


@adjoint_rule("max")
def max_(g, ans, x):
    return g * rt.argmax_mask(x, ans, None, False)


@adjoint_rule("max_axis")
def max_axis(g, ans, x, axis, keepdims):
    return rt.expand_reduced(g, x, axis, keepdims) * rt.argmax_mask(x, ans, axis, keepdims), \
        None, None


@adjoint_rule("min")
def min_(g, ans, x):
    return g * rt.argmax_mask(x, ans, None, False)


@adjoint_rule("min_axis")
def min_axis(g, ans, x, axis, keepdims):
    return rt.expand_reduced(g, x, axis, keepdims) * rt.argmax_mask(x, ans, axis, keepdims), \
        None, None


@adjoint_rule("prod")
def prod(g, x):
    return g * rt.prod_others(x, None)


@adjoint_rule("prod_axis")
def prod_axis(g, x, axis, keepdims):
    return rt.expand_reduced(g, x, axis, keepdims) * rt.prod_others(x, axis), None, None


@adjoint_rule("norm")
def norm(g, ans, x):
    # at x == 0 (ans == 0) the subgradient 0, not 0/0
    return x * (g / (ans + (ans == 0.0)))


@adjoint_rule("norm_axis")
def norm_axis(g, ans, x, axis, keepdims):
    return x * rt.expand_reduced(g / (ans + (ans == 0.0)), x, axis, keepdims), None, None
