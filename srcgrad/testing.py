"""Finite-difference checking of gradients (`check_grad`); reading generated source in tests."""

from __future__ import annotations

import re

import numpy as np

from .capture import unwrap


def signed_indices(source: str) -> str:
    """Generated source without its unsigned index copies (``i_u = np.uint64(i)`` lines dropped,
    ``a[i_u]`` read as ``a[i]``; srcgrad/nonneg.py), for tests that look for a statement's shape."""
    copies = dict(re.findall(r"^\s*(\w+) = np\.uint64\((\w+)\)$", source, flags=re.M))
    kept = [line for line in source.splitlines() if not re.match(r"^\s*\w+ = np\.uint64\(\w+\)$", line)]
    text = "\n".join(kept) + "\n"
    for unsigned, name in copies.items():
        text = re.sub(rf"\b{unsigned}\b", name, text)
    return text


def _directional_fd(f, args, wrt, dirs, eps):
    def shifted(sign):
        moved = list(args)
        for i, d in zip(wrt, dirs):
            moved[i] = np.asarray(args[i], dtype=np.float64) + sign * eps * d
            if np.ndim(args[i]) == 0:
                moved[i] = float(moved[i])
        return float(f(*moved))

    return (shifted(1.0) - shifted(-1.0)) / (2.0 * eps)


def check_grad(f, *args, argnums=0, directions=3, eps=1e-6, rtol=1e-5, atol=1e-7, seed=0,
               backend=None):
    """Compare ``grad(f)`` with central differences of ``f`` along random directions.

    Costs two evaluations of ``f`` per direction, whatever the number of inputs.  Raises
    AssertionError on a mismatch; returns the largest relative error seen.
    """
    from .api import grad

    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    g = grad(f, argnums=nums, backend=backend)(*args)
    py_f = unwrap(f)
    rng = np.random.default_rng(seed)
    worst = 0.0
    for k in range(directions):
        dirs = [rng.standard_normal(np.shape(args[i])) for i in nums]
        scale = max(1.0, max(float(np.max(np.abs(args[i]))) if np.size(args[i]) else 1.0
                             for i in nums))
        fd = _directional_fd(py_f, args, nums, dirs, eps * scale)
        ad = float(sum(np.sum(np.asarray(gi, dtype=np.float64) * d) for gi, d in zip(g, dirs)))
        err = abs(fd - ad)
        tol = atol + rtol * max(abs(fd), abs(ad))
        rel = err / max(abs(fd), abs(ad), 1e-300)
        worst = max(worst, rel if err > atol else 0.0)
        if not np.isfinite(ad) or err > tol:
            raise AssertionError(
                f"check_grad({getattr(py_f, '__name__', py_f)}): direction {k}: finite "
                f"differences give {fd!r}, the gradient gives {ad!r} (|diff| {err:.3g} > "
                f"tolerance {tol:.3g})")
    return worst
