"""Higher-order derivatives: forward over reverse.

A srcgrad object (``grad(f)``, ``jvp``...) handed to a transformation again becomes a
`NestedTransform`: for each argument types it takes the *generated IR* of the inner object (the
reverse pass's output, tapes included) and applies forward mode to it (`srcgrad.forward`):

* ``jvp`` of a srcgrad object: the forward transformation of its generated IR;
* ``hvp``: ``jvp`` of ``grad(f, J)`` returning only the tangent: ``H v`` at the cost of about
  one forward and one reverse sweep with tangents;
* ``grad(g, J)`` with ``g = grad(h, i)`` and ``x_i`` a scalar: by symmetry of second
  derivatives, ``d/dθ ∂h/∂x_i = ∂/∂x_i ∇_θ h``: the jvp of ``grad(h, J)`` seeded with 1.0 on
  ``x_i``.  The result is ordinary IR again, so ``grad(grad(grad(f)))`` nests further.

The functions `hvp`, `hessian` and `jacobian` live in `srcgrad.jacobians`.
"""

from __future__ import annotations

import copy

from . import __version__, cache, forward
from .api import Transform, normalize_argnums_for, tangent_param_names
from .errors import DifferentiationError
from .ir import Const
from .types import ArrayType

NESTED_KINDS = ("grad", "jvp", "hvp")


def _source_of(transform):
    """What ``transform`` differentiates: the user function or a srcgrad object."""
    return getattr(transform, "source", None) or transform.fn


class NestedTransform(Transform):
    """A transformation of a srcgrad object (see the module doc)."""

    def __init__(self, obj, kind: str, argnums: tuple, as_tuple: bool, backend: str,
                 fastmath: bool):
        inner = obj.transform
        if kind not in NESTED_KINDS:
            raise DifferentiationError(f"{kind} of a srcgrad {inner.kind} object is not "
                                       f"supported (nested: {', '.join(NESTED_KINDS)})",
                                       inner.func_ir.loc, construct=kind)
        if kind == "grad" and (inner.kind != "grad" or inner.as_tuple or len(inner.argnums) != 1):
            raise DifferentiationError(
                "grad of a srcgrad object needs grad(f, argnums=i) with one int argnum inside "
                f"(got {inner.kind} with argnums={inner.argnums}); use srcgrad.hessian or "
                "srcgrad.jacobian for blocks of second derivatives", inner.func_ir.loc,
                construct="grad")
        self.source = obj
        self.inner = inner
        self.fn = inner.fn
        self.kind = kind
        self.backend = backend
        self.fastmath = fastmath
        self.func_ir = inner.func_ir
        self.fn_name = inner.fn_name if inner.kind == "primal" else inner.entry_name
        self.nparams = inner.nargs
        self.argnums = normalize_argnums_for(argnums, self.nparams, self.fn_name, self.func_ir.loc)
        self.as_tuple = as_tuple
        self.param_names = list(inner.param_names)
        if kind in ("jvp", "hvp"):
            self.param_names += tangent_param_names(self.param_names, self.argnums)
        self.nargs = len(self.param_names)
        self.entry_name = f"{self.fn_name}_{kind}"
        self.key = cache.key(__version__, cache.package_hash(), "nested", inner.key, kind,
                             self.argnums, as_tuple, fastmath, backend)
        self.specs = {}
        self._latest = None
        self.last_error = None

    def _grad_of_source(self, argnums, as_tuple):
        from .api import _make

        return _make(_source_of(self.inner), "grad", argnums, as_tuple, self.inner.backend,
                     self.inner.fastmath).transform

    def build_ir(self, primal, arg_types: list):
        """The generated `Func` (hook called by `srcgrad.pipeline.build`)."""
        n = self.nparams
        if self.kind == "jvp":
            base = self.inner
            func = base.specialize(list(arg_types[:n])).built.generated
            return forward.jvp(func, self.argnums, name=self.entry_name)
        if self.kind == "hvp":
            base = self.inner if self.inner.kind != "grad" else self.inner
            func = base.specialize(list(arg_types[:n])).built.generated
            return forward.jvp(func, self.argnums, tangent_only=True, name=self.entry_name)
        # grad(grad(h, i), J) = jvp of grad(h, J) along e_i
        (i,) = self.inner.argnums
        t = arg_types[i]
        if not (isinstance(t, ArrayType) and t.ndim == 0):
            raise DifferentiationError(
                f"grad needs a function with one scalar float output; {self.fn_name} returns "
                f"the gradient with respect to argument {i}, which is {t}. Use "
                "srcgrad.hessian / srcgrad.jacobian / srcgrad.hvp for arrays",
                self.func_ir.loc, construct="grad")
        base = self._grad_of_source(self.argnums, self.as_tuple)
        func = base.specialize(list(arg_types[:n])).built.generated
        func = copy.deepcopy(func)
        return forward.jvp(func, (i,), seeds={i: Const(1.0)}, tangent_only=True,
                           name=self.entry_name)
