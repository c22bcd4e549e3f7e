"""Linear algebra: ``@``/np.dot/np.matmul (1-D and 2-D), np.outer, np.diag, np.trace,
np.linalg.solve.

Products compile to ``np.dot`` inside njit, which calls BLAS; operands of another dtype than the
result are converted first (numba's dot needs one float dtype).
"""

from __future__ import annotations

import numpy as np

from . import runtime
from .primitives import METHODS, PRIMS, Prim, register
from .types import ArrayType, promote_dtypes, to_float


def _float_result(in_types) -> str:
    return to_float(ArrayType(promote_dtypes(*[t.dtype for t in in_types]))).dtype


def _matmul(in_types, params, weak):
    a, b = in_types
    if not (1 <= a.ndim <= 2 and 1 <= b.ndim <= 2):
        raise TypeError("matrix products support 1-D and 2-D arrays (use * for scalars)")
    return [ArrayType(_float_result(in_types), a.ndim + b.ndim - 2)]


def _cast_operands(template):
    """A select_fmt converting operands whose dtype differs from the result's."""

    def select(ins, outs):
        dtype = outs[0].dtype
        ops = [f"{{{i}}}" if t.dtype == dtype else f"np.asarray({{{i}}}, dtype=np.{dtype})"
               for i, t in enumerate(ins)]
        return template.format(*ops)

    return select


register(Prim("matmul", "np.dot({0}, {1})", _matmul, None,
              meta={"select_fmt": _cast_operands("np.dot({0}, {1})")}),
         [np.matmul, np.dot])
METHODS["dot"] = "matmul"


def _outer(in_types, params, weak):
    if any(t.ndim != 1 for t in in_types):
        raise TypeError("np.outer supports 1-D arrays")
    return [ArrayType(_float_result(in_types), 2)]


register(Prim("outer", "np.outer({0}, {1})", _outer, None,
              meta={"select_fmt": _cast_operands("np.outer({0}, {1})")}), [np.outer])


def _diag(in_types, params, weak):
    t = in_types[0]
    if t.ndim not in (1, 2):
        raise TypeError("np.diag supports 1-D and 2-D arrays")
    return [t.with_ndim(3 - t.ndim)]


register(Prim("diag", "np.diag({0})", _diag, None), [np.diag])


def _trace(in_types, params, weak):
    t = in_types[0]
    if t.ndim != 2:
        raise TypeError("np.trace supports 2-D arrays")
    return [ArrayType("int64" if t.is_int or t.is_bool else t.dtype)]


def _trace_fmt(ins, outs):
    # numba's trace of float32 returns float64; NumPy keeps float32
    return "np.float32(np.trace({0}))" if outs[0].dtype == "float32" else "np.trace({0})"


register(Prim("trace", "np.trace({0})", _trace, None, meta={"select_fmt": _trace_fmt}),
         [np.trace])


def _solve(in_types, params, weak):
    a, b = in_types
    if a.ndim != 2 or b.ndim not in (1, 2):
        raise TypeError("np.linalg.solve(a, b) needs a 2-D a and a 1-D or 2-D b")
    return [ArrayType(_float_result(in_types), b.ndim)]


register(Prim("solve", "np.linalg.solve({0}, {1})", _solve, None,
              meta={"select_fmt": _cast_operands("np.linalg.solve({0}, {1})")}),
         [np.linalg.solve])


def _square(label):
    def infer(in_types, params, weak):
        (a,) = in_types
        if not isinstance(a, ArrayType) or a.ndim != 2:
            raise TypeError(f"{label} needs a 2-D (square) array")
        return [ArrayType(_float_result(in_types), 2 if label.endswith("inv") else 0)]

    return infer


register(Prim("inv", "np.linalg.inv({0})", _square("np.linalg.inv"), None,
              meta={"select_fmt": _cast_operands("np.linalg.inv({0})")}), [np.linalg.inv])
register(Prim("det", "np.linalg.det({0})", _square("np.linalg.det"), None,
              meta={"select_fmt": _cast_operands("np.linalg.det({0})")}), [np.linalg.det])


# helpers the adjoint rules call
def _like(pos):
    def infer(in_types, params, weak):
        return [to_float(in_types[pos])]

    return infer


for _name, _pos in [("matmul_adj_a", 1), ("matmul_adj_b", 2)]:
    register(Prim(_name, f"rt.{_name}({{0}}, {{1}}, {{2}})", _like(_pos), None),
             [getattr(runtime, _name)])
for _name in ("diag_adj", "trace_adj"):
    register(Prim(_name, f"rt.{_name}({{0}}, {{1}})", _like(1), None),
             [getattr(runtime, _name)])

for _name in ("matmul", "outer", "diag", "trace", "solve", "inv", "det"):
    PRIMS[_name].meta["exact_cotangents"] = True  # rules give each input's shape
