"""The pipeline as a list of named passes.

``SRCGRAD_PRINT_IR=frontend,types,fold,reverse,dce`` (or ``all``) prints the IR after those
stages to stderr.
"""

from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass

from . import __version__, codegen, forward
from .coalesce import coalesce_copies
from .first_store import store_first_writes
from .fused_chains import fuse_chains
from .increments import hoist_accumulators
from .ir import Eqn, Func, format_func, walk
from .iteration_fusion import fuse_iterations
from .known_zero import propagate_zeros
from .linear_hoist import hoist_linear_maps
from .liveness import prune
from .local_cse import local_cse
from .loop_carried import localise_resets, rotate_tapes
from .loop_order import order_loops
from .masks import flatten_masks
from .mul_unbroadcast import fuse_mul_unbroadcasts
from .noop_casts import drop_noop_casts
from .passes import dce, fold, infer_types, prune_constant_branches
from .placeholders import share_placeholders
from .reverse import reverse
from .shape_sources import reuse_shape_sources
from .shape_witness import share_lengths
from .shift_carry import carry_shifted_increments
from .sigmoid import fuse_sigmoid
from .stores import check_inplace_aliases, check_stores
from .tape_merge import merge_tapes, tuple_tapes

STAGES = ("frontend", "types", "fold", "reverse", "dce")


def _print(stage: str, func) -> None:
    wanted = os.environ.get("SRCGRAD_PRINT_IR", "")
    if wanted and (wanted == "all" or stage in wanted.split(",")):
        print(f"--- srcgrad IR after {stage} ---\n{format_func(func)}", file=sys.stderr)


@dataclass
class Built:
    primal: object  # the typed, folded primal Func
    generated: object  # the Func that codegen turned into source
    source: str

    @property
    def ir_text(self) -> str:
        return (f"# primal\n{format_func(self.primal)}\n\n"
                f"# {self.generated.name}\n{format_func(self.generated)}")


def prepare_primal(func_ir, arg_types, check_writes=False):
    func = copy.deepcopy(func_ir)
    _print("frontend", func)
    infer_types(func, arg_types)
    check_inplace_aliases(func)  # a += v on an array another name shares (stores.py)
    flatten_masks(func)  # x[m] with a 2-D+ boolean m: numba indexes with 1-D masks only
    _print("types", func)
    fold(func)
    prune_constant_branches(func)  # if 0.3 > 0.2 inside a loop: only the branch taken (passes.py)
    if check_writes:  # before dce, which cannot see writes through views
        check_stores(func)
    dce(func)
    infer_types(func, arg_types)
    _print("fold", func)
    return func


def for_codegen(gen: Func) -> Func:
    """The generated function as codegen prints it: a copy with rewrites that only the printed
    code takes (forward mode, which differentiates ``gen`` again for ``hessian``, has no rules for
    them): list tapes pushed together push one tuple (tape_merge.py), the adjoint of a 1-D
    product is one call (mul_unbroadcast.py), so are three fixed elementwise chains
    (fused_chains.py), array placeholders of one type share one zero-length array
    (placeholders.py), and repeated length computations are computed once
    (shape_witness.share_lengths)."""
    if not any(isinstance(s, Eqn) and s.prim in ("unbroadcast", "tape_push", "mul", "add", "zero_of",
                                                        "bcast_len", "copy")
               for s in walk(gen.body)):
        return gen
    gen = copy.deepcopy(gen)
    tuple_tapes(gen)
    fuse_mul_unbroadcasts(gen)
    fuse_chains(gen)
    share_placeholders(gen)
    if share_lengths(gen):
        dce(gen)  # the copies of lengths nobody reads
    coalesce_copies(gen)  # t = op(..); x_bar = t -> x_bar = op(..): fewer arrays for numba to count
    return gen


def build(transform, arg_types: list, preamble: list) -> Built:
    primal_types = arg_types[:transform.nparams]
    primal = prepare_primal(transform.func_ir, primal_types,
                            check_writes=transform.kind != "primal")
    if transform.kind == "primal":
        gen = copy.deepcopy(primal)
        gen.name = transform.entry_name
    else:
        if getattr(transform, "build_ir", None) is not None:  # nested derivatives (higher.py)
            gen = transform.build_ir(primal, arg_types)
        elif transform.kind == "jvp":  # forward mode (forward.py)
            gen = forward.jvp(primal, transform.argnums, name=transform.entry_name)
        else:
            coalesce_copies(primal)  # t = op(..); x = t -> x = op(..) in loops (coalesce.py)
            local_cse(primal)  # repeated index arithmetic in loop bodies (local_cse.py)
            fuse_sigmoid(primal)  # 1 / (1 + exp(-v)) as one primitive (sigmoid.py)
            gen = reverse(primal, transform.argnums, transform.kind, transform.as_tuple)
        infer_types(gen, arg_types)
        _print("reverse", gen)
        drop_noop_casts(gen)  # reads of x only for a no-op cast (noop_casts.py)
        fold(gen)
        propagate_zeros(gen)
        prune(gen)
        reuse_shape_sources(gen)  # shape-only uses off dead primal values (before dce)
        dce(gen)
        if hoist_linear_maps(gen):  # a per-point linear map applied once to the sum (linear_hoist.py)
            infer_types(gen, arg_types)
        hoist_accumulators(gen)
        infer_types(gen, arg_types)
        if order_loops(gen):
            dce(gen)  # the reversed loops' range_last bounds
            if carry_shifted_increments(gen):  # a[i + 1] += v carried in a scalar (shift_carry.py)
                infer_types(gen, arg_types)
        if store_first_writes(gen):  # zero fill + a[i] += v once per element -> stores (first_store.py)
            infer_types(gen, arg_types)
        rotate_tapes(gen)  # loop-carried taped values pushed at the end, popped at the top (loop_carried.py)
        localise_resets(gen)  # adjoints of per-iteration arrays zeroed at their first use, not carried
        merge_tapes(gen)  # tapes pushed and popped together share one list (tape_merge.py)
        if fuse_iterations(gen, primal):  # independent iterations recomputed before their adjoint (iteration_fusion.py)
            dce(gen)  # what only the deleted forward loop read
        _print("dce", gen)
    header = [
        f"Generated by srcgrad {__version__}: {transform.kind} of {transform.fn_name}",
        f"from {transform.func_ir.loc.file}:{transform.func_ir.loc.line}",
        f"for argument types ({', '.join(str(t) for t in arg_types)}).",
        "Regenerated whenever the source changes; edits here are overwritten.",
    ]
    source = codegen.generate_module([for_codegen(gen)], header, preamble)
    return Built(primal, gen, source)
