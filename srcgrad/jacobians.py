"""Forward mode and second derivatives in the public API: jvp, hvp, hessian, jacobian.

* ``jvp(f, primals, tangents) -> (out, tangent_out)``: the forward-mode transformation of ``f``
  (`srcgrad.forward`), compiled by numba; every float primal is differentiated.
* ``hvp(f, argnums=0)``: a compiled function ``(*args, v) -> H v`` (forward over reverse; a
  numba dispatcher, callable from ``@njit`` code).
* ``hessian(f, argnums=0)``: the Hessian, one Hessian-vector product per input coordinate.
* ``jacobian(f, argnums=0, mode="auto"|"fwd"|"rev")``: forward columns (one jvp per input
  coordinate) or reverse rows (one vjp per output coordinate); ``auto`` picks the fewer sweeps.
  The result has shape ``out.shape + x.shape`` (a tuple of those for a tuple of argnums).
"""

from __future__ import annotations

import numpy as np

from .api import _as_value, _make, _normalize_argnums, grad, vjp
from .errors import DifferentiationError
from .types import from_value

__all__ = ["hessian", "hvp", "jacobian", "jvp", "jvp_function", "vjp_function"]


def _float_args(primals) -> tuple:
    return tuple(i for i, p in enumerate(primals) if getattr(from_value(p), "is_float", False))


def _tangent_like(t, p):
    """``t`` converted to the type of primal ``p`` (what the compiled function expects)."""
    if isinstance(p, np.ndarray):
        return np.ascontiguousarray(np.broadcast_to(np.asarray(t, dtype=p.dtype), p.shape))
    return type(p)(np.asarray(t).item()) if isinstance(p, np.floating) else float(np.asarray(t))


def _jvp_object(fun, nums, backend):
    return _make(fun, "jvp", nums, True, backend, False)


def jvp(fun, primals, tangents, *, backend=None):
    """``(f(*primals), J_f(primals) @ tangents)`` by forward mode (JAX's ``jax.jvp``)."""
    primals = tuple(_as_value(p) for p in primals)
    tangents = tuple(_as_value(t) for t in tangents)
    if len(primals) != len(tangents):
        raise DifferentiationError(f"jvp: {len(primals)} primal(s) but {len(tangents)} "
                                   "tangent(s)", construct="jvp")
    nums = _float_args(primals)
    if not nums:
        raise DifferentiationError("jvp: no float argument to differentiate", construct="jvp")
    obj = _jvp_object(fun, nums, backend)
    dots = tuple(_tangent_like(tangents[i], primals[i]) for i in nums)
    return obj(*primals, *dots)


def jvp_function(fun, argnums=0, *, backend=None):
    """The compiled forward-mode function ``(*args, *tangents) -> (out, tangent_out)``, one
    tangent per argnum: a numba dispatcher, callable from ``@njit`` code."""
    nums, _ = _normalize_argnums(argnums)
    return _jvp_object(fun, nums, backend)


def vjp_function(fun, argnums=0, *, backend=None):
    """The compiled pullback ``(*args, ct) -> (out, (cotangent, ...))``, one cotangent per
    argnum: a numba dispatcher, callable from ``@njit`` code (a Jacobian row per call)."""
    nums, _ = _normalize_argnums(argnums)
    return _make(fun, "vjp", nums, True, backend, False)


def hvp(fun, argnums=0, *, backend=None):
    """``hvp(f)(*args, v)``: the Hessian of scalar ``f`` times ``v`` (one ``v`` per argnum, in
    order), by forward mode over the compiled gradient."""
    nums, as_tuple = _normalize_argnums(argnums)
    inner = grad(fun, argnums=nums if as_tuple else nums[0], backend=backend)
    return _make(inner, "hvp", nums, as_tuple, backend, False)


def _basis(p):
    """Yield (k, e_k) over the coordinates of primal ``p`` (scalar or array)."""
    if isinstance(p, np.ndarray):
        e = np.zeros(p.shape, dtype=p.dtype)
        flat = e.reshape(-1)
        for k in range(p.size):
            flat[k] = 1.0
            yield k, e
            flat[k] = 0.0
    else:
        yield 0, _tangent_like(1.0, p)


def _assemble(cols, out_like, p):
    """Columns (one per coordinate of ``p``) -> array of shape out.shape + p.shape."""
    out_shape = np.shape(out_like)
    mat = np.stack([np.asarray(c, dtype=np.float64).reshape(out_shape) for c in cols], axis=-1)
    mat = mat.reshape(out_shape + np.shape(p))
    return mat if mat.ndim else float(mat)


class _Blocks:
    """Shared by hessian and jacobian: argnums handling and block assembly."""

    def __init__(self, fun, argnums, backend):
        self.fun = fun
        self.nums, self.as_tuple = _normalize_argnums(argnums)
        self.backend = backend

    def finish(self, blocks):
        return tuple(blocks) if self.as_tuple else blocks[0]


class Hessian(_Blocks):
    def __call__(self, *args):
        args = tuple(_as_value(a) for a in args)
        nums = self.nums
        inner = grad(self.fun, argnums=nums, backend=self.backend)
        fwd = _make(inner, "hvp", nums, True, self.backend, False)
        zeros = [_tangent_like(0.0, args[i]) for i in nums]
        rows = []
        for a in range(len(nums)):
            row = []
            for b, j in enumerate(nums):
                cols = []
                for _, e in _basis(args[j]):
                    dots = list(zeros)
                    dots[b] = e
                    cols.append(np.array(fwd(*args, *dots)[a], dtype=np.float64))
                row.append(_assemble(cols, args[nums[a]], args[j]))
            rows.append(tuple(row))
        if not self.as_tuple:
            return rows[0][0]
        return tuple(rows)


def hessian(fun, argnums=0, *, backend=None):
    """``hessian(f)(*args)``: second derivatives of scalar ``f`` (forward over reverse); shape
    ``x.shape + x.shape``, or nested tuples of blocks for a tuple of argnums."""
    return Hessian(fun, argnums, backend)


class Jacobian(_Blocks):
    def __init__(self, fun, argnums, backend, mode):
        super().__init__(fun, argnums, backend)
        if mode not in ("auto", "fwd", "rev"):
            raise ValueError(f"jacobian mode must be 'auto', 'fwd' or 'rev', not {mode!r}")
        self.mode = mode

    def __call__(self, *args):
        args = tuple(_as_value(a) for a in args)
        mode = self.mode
        if mode == "auto":
            from .api import jit

            out = jit(self.fun, backend=self.backend)(*args)
            n_in = sum(np.size(args[i]) for i in self.nums)
            mode = "rev" if np.size(out) < n_in else "fwd"
        return self.finish(self.forward(args) if mode == "fwd" else self.reverse(args))

    def forward(self, args):
        obj = _jvp_object(self.fun, self.nums, self.backend)
        zeros = [_tangent_like(0.0, args[i]) for i in self.nums]
        blocks, out = [], None
        for b, j in enumerate(self.nums):
            cols = []
            for _, e in _basis(args[j]):
                dots = list(zeros)
                dots[b] = e
                out, t = obj(*args, *dots)
                self._check_out(out)
                cols.append(np.array(t, dtype=np.float64))
            blocks.append(_assemble(cols, out, args[j]))
        return blocks

    def reverse(self, args):
        out, pull = vjp(self.fun, *args, argnums=self.nums, backend=self.backend)
        self._check_out(out)
        out_arr = np.asarray(out, dtype=np.float64)
        rows = [[] for _ in self.nums]
        for _, e in _basis(out_arr):
            cts = pull(e if isinstance(out, np.ndarray) else float(e))
            for b in range(len(self.nums)):
                rows[b].append(np.array(cts[b], dtype=np.float64))
        blocks = []
        for b, j in enumerate(self.nums):
            mat = np.stack([r.reshape(-1) for r in rows[b]], axis=0)
            shape = np.shape(out) + np.shape(args[j])
            blocks.append(mat.reshape(shape) if shape else float(mat.reshape(())))
        return blocks

    @staticmethod
    def _check_out(out):
        if isinstance(out, tuple):
            raise DifferentiationError("jacobian needs a function returning one array or scalar,"
                                       " not a tuple", construct="jacobian")


def jacobian(fun, argnums=0, *, mode="auto", backend=None):
    """``jacobian(f)(*args)``: shape ``out.shape + x.shape``; ``mode="fwd"`` builds columns with
    jvps, ``"rev"`` rows with vjps, ``"auto"`` (default) whichever needs fewer sweeps."""
    return Jacobian(fun, argnums, backend, mode)
