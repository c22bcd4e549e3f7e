"""Adjoint rules: one runnable function per primitive, written in srcgrad's own subset.

A rule is registered with ``@adjoint_rule("exp")`` and takes the output cotangent ``g``, then
optionally ``ans`` (the primal output), then the primal inputs in order; it returns one
cotangent per input (a tuple when there are several, ``None`` for an input that gets none).
Rules never deal with broadcasting: they return cotangents of the output's shape, and the
transformer reduces each to its input's shape with ``unbroadcast``.  The transformer inlines a
rule's IR into the generated adjoint, so rules stay readable NumPy and can be differentiated
again.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

ADJOINTS: dict = {}


@dataclass
class Rule:
    prim: str
    fn: object
    uses_ans: bool
    _ir: object = None

    @property
    def ir(self):
        if self._ir is None:
            from ..frontend import lower

            self._ir, _ = lower(self.fn, is_rule=True)
        return self._ir


def adjoint_rule(prim: str):
    """Register ``fn`` as the adjoint rule of primitive ``prim``."""

    def register(fn):
        params = list(inspect.signature(fn).parameters)
        if not params or params[0] != "g":
            raise ValueError(f"rule for {prim!r}: the first parameter must be g")
        if prim in ADJOINTS:
            raise ValueError(f"primitive {prim!r} already has an adjoint rule")
        ADJOINTS[prim] = Rule(prim, fn, len(params) > 1 and params[1] == "ans")
        return fn

    return register


def load_builtin_rules():
    from .. import sigmoid  # noqa: F401  (the recognised logistic primitive and its rules)
    from . import elementwise, linalg, reductions, shape  # noqa: F401  (register on import)
