"""Backends turn generated source into callables: `cpu` (numba.njit), `python` (debugging)."""
