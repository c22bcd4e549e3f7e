"""Inlining a tangent rule (`srcgrad.rules.tangents`) into the forward-mode code.

The rule's IR is copied with fresh names and its parameters bound to the statement's atoms.
Tangents of inactive inputs are the constant 0.0, and the products, quotients, sums and
differences they enter are simplified away while copying, so a rule written for the fully active
case costs nothing extra when only some inputs carry tangents.
"""

from __future__ import annotations

import copy as _copy

from .errors import DifferentiationError
from .frontend import NameGen
from .ir import Block, Const, Eqn, For, If, Var, While, walk


def _is_zero(a, zeros) -> bool:
    if isinstance(a, Var):
        return a.name in zeros
    v = a.value
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0


def inline_tangent(rule, y: Var, ins, dots, out: list, names: NameGen, loc):
    """Copy the rule's IR into ``out``; returns (result atom or None if zero, fresh?)."""
    rir = rule.ir
    params = [p.name for p in rir.params]
    if rule.uses_ans:
        binding = {params[0]: y}
        params = params[1:]
    else:
        binding = {}
    n = len(params) // 2
    if n != len(ins):
        raise DifferentiationError(f"tangent rule for {rule.prim!r} takes {n} inputs, the call "
                                   f"has {len(ins)}", loc, construct=rule.prim)
    zero_params = set()
    for p, a in zip(params[:n], ins):
        binding[p] = a
    for p, d in zip(params[n:], dots):
        if d is None:
            zero_params.add(p)
        else:
            binding[p] = d
    body = _copy.deepcopy(rir.body)
    for stmt in walk(body):
        for v in getattr(stmt, "outs", ()):
            if v.name not in binding and v.name not in zero_params:
                binding[v.name] = Var(names.fresh("t"))
    zeros = set(zero_params)
    mapping: dict = {}
    defined_by: dict = {}

    def sub(a):
        if isinstance(a, Var):
            if a.name in mapping:
                return mapping[a.name]
            return binding.get(a.name, a)
        return a

    for stmt in body.stmts:
        stmt.loc = loc
        if isinstance(stmt, Eqn):
            zflags = [(isinstance(a, Var) and a.name in zeros) or
                      (isinstance(a, Const) and _is_zero(a, ())) for a in stmt.ins]
            ins2 = tuple(Const(0.0) if z else sub(a) for z, a in zip(zflags, stmt.ins))
            for o in stmt.outs:
                mapping.pop(o.name, None)
                zeros.discard(o.name)
            outs = tuple(binding.get(o.name, o) for o in stmt.outs)
            o_name = stmt.outs[0].name if len(stmt.outs) == 1 else None
            p = stmt.prim
            if o_name is not None and any(zflags):
                if p in ("mul", "matmul", "outer") or (p in ("truediv", "neg", "pos", "copy") and zflags[0]) or \
                        (p in ("add", "sub") and all(zflags)):
                    zeros.add(o_name)
                    continue
                if p == "add":
                    mapping[o_name] = ins2[1] if zflags[0] else ins2[0]
                    continue
                if p == "sub" and zflags[1]:
                    mapping[o_name] = ins2[0]
                    continue
                if p == "sub":
                    p, ins2 = "neg", (ins2[1],)
            new = Eqn(p, ins2, outs, dict(stmt.params), loc)
            out.append(new)
            for o in outs:
                defined_by[o.name] = new
        elif isinstance(stmt, If):
            cond = sub(stmt.cond)
            blk = Block(stmt.then.stmts + stmt.orelse.stmts)
            if any(isinstance(s, (If, For, While)) for s in blk.stmts):
                raise DifferentiationError("tangent rules must be straight-line code or a "
                                           "simple if/else", loc, construct=rule.prim)
            _rename_block(stmt.then, sub, zeros, loc)
            _rename_block(stmt.orelse, sub, zeros, loc)
            out.append(If(cond, stmt.then, stmt.orelse, loc))
        else:
            raise DifferentiationError("tangent rules must be straight-line code or if/else",
                                       loc, construct=rule.prim)
    result = rir.result
    if isinstance(result, tuple):
        raise DifferentiationError(f"tangent rule for {rule.prim!r} must return one value",
                                   loc, construct=rule.prim)
    if isinstance(result, Var):
        if result.name in zeros:
            return None, False
        atom = sub(result)
    else:
        atom = result
        if _is_zero(atom, ()):
            return None, False
    fresh = isinstance(atom, Var) and atom.name in defined_by and \
        defined_by[atom.name].prim != "copy"
    return atom, fresh


def _rename_block(block: Block, sub, zeros, loc):
    for stmt in block.stmts:
        stmt.loc = loc
        if isinstance(stmt, Eqn):
            stmt.ins = tuple(Const(0.0) if isinstance(a, Var) and a.name in zeros else sub(a)
                             for a in stmt.ins)
            stmt.outs = tuple(sub(o) for o in stmt.outs)
