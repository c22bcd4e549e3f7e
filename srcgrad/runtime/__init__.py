"""Helpers that generated code calls (``rt.unbroadcast(...)``): numba-compiled, callable from
Python too.  This package imports only numba and NumPy, never the compiler stages."""

from . import elementwise as ew  # noqa: F401  whole-array operations, cached (rt.ew.mul)
from . import ew_binary as ewb  # noqa: F401  the common cases as small loops (rt.ewb.mul_22)
from . import ew_unary as ewu  # noqa: F401  (rt.ewu.exp)
from .adjoints import (
    concat_adj_a,
    concat_adj_b,
    diag_adj,
    fill_like,
    mean_fill,
    mean_scale,
    prod_others,
    trace_adj,
    transpose_back,
)
from .arrays import add_at, expand_dims_axis, matmul_adj_a, matmul_adj_b, range_last, squeeze_axis
from .broadcast import cast_like, unbroadcast, zeros_like_any
from .fused import mul_add_1, sigmoid_adj_1, tanh_adj_1  # noqa: F401  fixed chains (fused_chains.py)
from .logistic import sigmoid_f64  # noqa: F401  (the sigmoid primitive on arrays)
from .loops import sign_int, unique_index  # noqa: F401
from .reductions import (
    argmax_mask,
    expand_reduced,
    max_axis,
    mean_axis,
    min_axis,
    prod_axis,
    sum_axis,
)
from .scalars import int_pow
from .specialised import (  # noqa: F401  type-specialised, cached helpers (codegen picks them)
    dot,
    empty_b1,
    empty_f32,
    empty_f64,
    empty_i64,
    full_f32,
    full_f64,
    iadd_1,
    iadd_1s,
    iadd_2,
    iadd_2s,
    matmul_adj_a2,
    matmul_adj_b2,
    mean_full_f32,
    mean_full_f64,
    mul_adj_pair_1,
    mul_unbroadcast_1,
    ones_f32,
    ones_f64,
    range_last_i64,
    row_add,
    row_add_s,
    row_set,
    row_set_s,
    slice_add,
    slice_add_s,
    slice_set,
    slice_set_s,
    sum_all,
    unbroadcast_eq1,
    unbroadcast_eq2,
    unbroadcast_eq3,
    unbroadcast_rows,
    zeros_b1,
    zeros_f32,
    zeros_f64,
    zeros_i64,
)
from .tangent import tangent_like
from .witness import bcast_len, full_len, unbroadcast_len  # noqa: F401  (shape_witness.py)

__all__ = ["add_at", "argmax_mask", "cast_like", "concat_adj_a", "concat_adj_b", "diag_adj",
           "expand_dims_axis", "expand_reduced", "fill_like", "int_pow", "matmul_adj_a", "matmul_adj_b", "max_axis",
           "mean_axis", "mean_fill", "mean_scale", "min_axis", "prod_axis", "prod_others", "range_last",
           "sign_int", "squeeze_axis", "sum_axis", "tangent_like", "trace_adj", "transpose_back",
           "unbroadcast", "zeros_like_any"]
