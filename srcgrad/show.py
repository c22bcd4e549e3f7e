"""`show`: print the adjoint srcgrad generates for a function (PyTorch's grad_fn, readable)."""

from __future__ import annotations


def show(fun, *args, argnums=0, file=None) -> str:
    """Print and return the generated gradient source of ``fun`` for these arguments
    (float64 scalars when none are given)."""
    from .api import grad

    g = grad(fun, argnums=argnums)
    source = g.source_for(*args) if args else g.source
    print(source, file=file)
    return source
