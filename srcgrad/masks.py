"""Boolean masks with more than one dimension, which numba cannot index with.

NumPy's ``x[m]`` with ``m.shape == x.shape`` selects the elements where ``m`` is true, in C order,
as a 1-D array; numba only implements 1-D boolean indices.  After the first type inference this
pass rewrites such reads into ``np.ravel(x)[np.ravel(m)]`` — the same elements in the same order —
so the rest of the pipeline (the adjoint scatters into ``x_bar`` through ``ravel``'s rule, forward
mode, codegen) sees only the 1-D mask it already handles.  Writes through such a mask
(``a[m] = v``) are rejected at their line: numba cannot compile them and srcgrad does not rewrite
stores.
"""

from __future__ import annotations

from .errors import UnsupportedError
from .ir import Block, Eqn, Store, Var, child_blocks, stmt_defs, walk
from .types import ArrayType


def _mask_of(func, index):
    """The mask variable when ``index`` is one boolean array with ndim > 1, else None."""
    if len(index) != 1 or not isinstance(index[0], Var):
        return None
    t = func.types.get(index[0].name)
    if isinstance(t, ArrayType) and t.is_bool and t.ndim > 1:
        return index[0]
    return None


def flatten_masks(func, names=None) -> None:
    """Rewrite ``x[m]`` (boolean ``m`` with ndim > 1) into ``np.ravel(x)[np.ravel(m)]``."""
    if names is None:
        from .frontend import NameGen

        names = NameGen()
        names.taken |= {p.name for p in func.params}
        for stmt in walk(func.body):
            names.taken.update(v.name for v in stmt_defs(stmt))

    def visit(block: Block):
        out = []
        for stmt in block.stmts:
            if isinstance(stmt, Store) and _mask_of(func, stmt.index) is not None:
                raise UnsupportedError(
                    "a store through a boolean mask with more than one dimension is not supported "
                    "(numba cannot compile it); use np.where(mask, value, a)", stmt.loc,
                    construct="store")
            if isinstance(stmt, Eqn) and stmt.prim == "getitem":
                mask = _mask_of(func, stmt.params["index"])
                if mask is not None:
                    base = stmt.ins[0]
                    flat_x = Var(names.fresh(f"{base.name}_flat"))
                    flat_m = Var(names.fresh(f"{mask.name}_flat"))
                    func.types[flat_x.name] = func.types[base.name].with_ndim(1)
                    func.types[flat_m.name] = ArrayType(func.types[mask.name].dtype, 1)
                    out += [Eqn("ravel", (base,), (flat_x,), {}, stmt.loc),
                            Eqn("ravel", (mask,), (flat_m,), {}, stmt.loc)]
                    stmt.ins = (flat_x, flat_m)
                    stmt.params = {**stmt.params, "index": (flat_m,)}
            for child in child_blocks(stmt):
                visit(child)
            out.append(stmt)
        block.stmts = out

    visit(func.body)
