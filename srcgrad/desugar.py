"""Desugaring of ``break``, ``continue`` and ``return`` inside loops into flags and guards.

Runs on the Python AST of each captured function before it is lowered, so the IR (and the
reverse pass) never sees an early exit from a loop.  The rewrite keeps Python's semantics:

* ``continue`` sets ``cont_N = True``; ``cont_N`` is reset at the top of every iteration and the
  statements that follow a statement which may continue are guarded by ``if not cont_N:``.
* ``break`` sets ``brk_N = True``; the rest of the body is guarded likewise, and the loop's
  condition becomes ``False if brk_N else <cond>`` (short-circuit: the user's condition is not
  evaluated again after the break).  A ``for i in range(a, b, s)`` that may break becomes a
  ``while`` over a hidden counter (``k_N``) with the same bounds, evaluated once; ``i`` keeps
  the value it had at the break, as in Python.
* ``return v`` inside a loop stores ``ret_val = v``, sets ``ret_flag = True`` and breaks out of
  every enclosing loop; after the outermost one, ``if ret_flag: return ret_val`` hands the value
  back (the front end then removes that return structurally, as it does for any ``if``).

A loop with only ``continue`` stays a ``for`` loop.  Nothing changes in functions without early
exits from loops.
"""

from __future__ import annotations

import ast
import copy

_LOOPS = (ast.For, ast.While)


def _walk_no_loops(node):
    """Nodes of ``node``'s body statements, not descending into nested loops or functions."""
    todo = list(ast.iter_child_nodes(node))
    while todo:
        n = todo.pop()
        yield n
        if not isinstance(n, _LOOPS + (ast.FunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(n))


def _exits_loop(stmt) -> set:
    """Which of break/continue/return inside ``stmt`` leave the loop enclosing ``stmt``."""
    kinds = set()
    if isinstance(stmt, ast.Break):
        kinds.add("break")
    elif isinstance(stmt, ast.Continue):
        kinds.add("continue")
    elif isinstance(stmt, ast.Return):
        kinds.add("return")
    if isinstance(stmt, _LOOPS):
        if any(isinstance(n, ast.Return) for n in ast.walk(stmt)):
            kinds.add("return")
        return kinds
    for n in _walk_no_loops(stmt):
        if isinstance(n, ast.Break):
            kinds.add("break")
        elif isinstance(n, ast.Continue):
            kinds.add("continue")
        elif isinstance(n, ast.Return):
            kinds.add("return")
    for n in ast.walk(stmt):
        if isinstance(n, ast.Return):
            kinds.add("return")
    return kinds


def _name(id_, ctx=None):
    return ast.Name(id=id_, ctx=ctx or ast.Load())


def _assign(target, value):
    return ast.Assign(targets=[_name(target, ast.Store())], value=value)


def _const(v):
    return ast.Constant(value=v)


def _not_any(flags):
    """``not (f1 or f2 ...)`` written as ``not f1 and not f2``."""
    tests = [ast.UnaryOp(op=ast.Not(), operand=_name(f)) for f in flags]
    return tests[0] if len(tests) == 1 else ast.BoolOp(op=ast.And(), values=tests)


class _Desugarer:
    def __init__(self, tree: ast.FunctionDef):
        self.taken = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        self.taken |= {a.arg for a in tree.args.args}
        self.counter = 0
        self.ret_flag = None
        self.ret_vals = None  # list of names, or one name

    def fresh(self, base):
        k = 1
        while True:
            name = base if k == 1 else f"{base}_{k}"
            if name not in self.taken:
                self.taken.add(name)
                return name
            k += 1

    # -- the function body: loops at "function level" (not inside another loop) -------------
    def function(self, tree: ast.FunctionDef):
        tree.body = self.top_stmts(tree.body)

    def top_stmts(self, stmts):
        out = []
        for s in stmts:
            if isinstance(s, _LOOPS) and "return" in _exits_loop(s):
                out.extend(self.loop(s, []))
                out.append(ast.copy_location(
                    ast.If(test=_name(self.ret_flag), body=[ast.copy_location(
                        ast.Return(value=self.ret_value()), s)], orelse=[]), s))
            elif isinstance(s, _LOOPS):
                out.extend(self.loop(s, []))
            elif isinstance(s, ast.If):
                s.body = self.top_stmts(s.body)
                s.orelse = self.top_stmts(s.orelse)
                out.append(s)
            else:
                out.append(s)
        return out

    def ret_value(self):
        if isinstance(self.ret_vals, list):
            return ast.Tuple(elts=[_name(v) for v in self.ret_vals], ctx=ast.Load())
        return _name(self.ret_vals)

    # -- loops --------------------------------------------------------------------------------
    def loop(self, loop, outer_breaks: list) -> list:
        """Rewrite one loop; ``outer_breaks`` are the break flags of the enclosing loops."""
        exits = set()
        for s in loop.body:
            exits |= _exits_loop(s)
        pre = []
        if not exits:
            loop.body = self.inner_stmts(loop.body, None, None, outer_breaks)
            return [loop]
        if "return" in exits and self.ret_flag is None:
            self.ret_flag = self.fresh("ret_flag")
        brk = self.fresh("brk") if exits & {"break", "return"} else None
        cont = self.fresh("cont") if "continue" in exits else None
        if brk is not None:
            pre.append(ast.copy_location(_assign(brk, _const(False)), loop))
        body = self.inner_stmts(loop.body, brk, cont, outer_breaks + ([brk] if brk else []))
        if cont is not None:
            body.insert(0, ast.copy_location(_assign(cont, _const(False)), loop))
        if brk is None:
            loop.body = body
            return pre + [loop]
        if isinstance(loop, ast.While):
            test = ast.IfExp(test=_name(brk), body=_const(False), orelse=loop.test)
            if isinstance(loop.test, ast.Constant) and loop.test.value is True:
                test = _not_any([brk])
            new = ast.While(test=test, body=body, orelse=[])
            return pre + [ast.copy_location(new, loop)]
        return pre + self.for_as_while(loop, brk, body)

    def for_as_while(self, loop: ast.For, brk, body) -> list:
        it = loop.iter
        stmts = []
        is_range = (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and
                    it.func.id == "range" and not it.keywords and 1 <= len(it.args) <= 3)
        if is_range:
            args = list(it.args)
            start, stop, step = ((_const(0), args[0], _const(1)) if len(args) == 1 else
                                 (args[0], args[1], _const(1)) if len(args) == 2 else args)
            elem = None
        else:  # for v in arr: iterate over the leading axis by index
            arr = self.fresh("seq")
            stmts.append(_assign(arr, it))
            start, stop, step = _const(0), ast.Call(func=_name("len"), args=[_name(arr)],
                                                    keywords=[]), _const(1)
            elem = arr
        k = self.fresh("k")
        bounds = []
        for part, base in ((stop, "stop"), (step, "step")):
            if isinstance(part, ast.Constant) or (isinstance(part, ast.UnaryOp) and
                                                  isinstance(part.operand, ast.Constant)):
                bounds.append(part)
            else:
                name = self.fresh(base)
                stmts.append(_assign(name, part))
                bounds.append(_name(name))
        stop, step = bounds
        stmts.append(_assign(k, start))
        step_value = _literal(step)
        up = ast.Compare(left=_name(k), ops=[ast.Lt()], comparators=[stop])
        down = ast.Compare(left=_name(k), ops=[ast.Gt()], comparators=[stop])
        if step_value is not None:
            in_range = up if step_value > 0 else down
        else:
            positive = ast.Compare(left=step, ops=[ast.Gt()], comparators=[_const(0)])
            in_range = ast.IfExp(test=positive, body=up, orelse=down)
        target = loop.target
        if elem is None:
            first = _assign_target(target, _name(k))
        else:
            first = _assign_target(target, ast.Subscript(value=_name(elem), slice=_name(k),
                                                         ctx=ast.Load()))
        advance = _assign(k, ast.BinOp(left=_name(k), op=ast.Add(), right=step))
        test = ast.IfExp(test=_name(brk), body=_const(False), orelse=in_range)
        new = ast.While(test=test, body=[first, advance] + body, orelse=[])
        out = stmts + [new]
        for s in out:
            ast.copy_location(s, loop)
        return out

    def inner_stmts(self, stmts, brk, cont, breaks) -> list:
        """Rewrite a statement list inside a loop whose flags are ``brk``/``cont``."""
        out = []
        for i, s in enumerate(stmts):
            if isinstance(s, ast.Break):
                out.append(ast.copy_location(_assign(brk, _const(True)), s))
                return out
            if isinstance(s, ast.Continue):
                out.append(ast.copy_location(_assign(cont, _const(True)), s))
                return out
            if isinstance(s, ast.Return):
                out.extend(self.rewrite_return(s, breaks))
                return out
            exits = _exits_loop(s)
            if isinstance(s, _LOOPS):
                out.extend(self.loop(s, breaks))
                if "return" in exits:  # a return in it also set this loop's break flag
                    exits = {"break"}
                else:
                    exits = set()
            elif isinstance(s, ast.If):
                s.body = self.inner_stmts(s.body, brk, cont, breaks)
                s.orelse = self.inner_stmts(s.orelse, brk, cont, breaks)
                out.append(s)
            else:
                out.append(s)
            rest = stmts[i + 1:]
            if exits and rest:
                flags = []
                if exits & {"break", "return"}:
                    flags.append(brk)
                if "continue" in exits:
                    flags.append(cont)
                guarded = self.inner_stmts(rest, brk, cont, breaks)
                if guarded:
                    out.append(ast.copy_location(ast.If(test=_not_any(flags), body=guarded,
                                                        orelse=[]), rest[0]))
                return out
        return out

    def rewrite_return(self, s: ast.Return, breaks) -> list:
        out = []
        if s.value is None:
            return out  # the front end reports a bare return
        if isinstance(s.value, ast.Tuple):
            if self.ret_vals is None:
                self.ret_vals = [self.fresh(f"ret_val{j}") for j in range(len(s.value.elts))]
            names = self.ret_vals if isinstance(self.ret_vals, list) else [self.ret_vals]
            if len(names) != len(s.value.elts):
                names = None
            if names is not None:
                target = ast.Tuple(elts=[_name(n, ast.Store()) for n in names], ctx=ast.Store())
                out.append(ast.Assign(targets=[target], value=s.value))
        else:
            if self.ret_vals is None:
                self.ret_vals = self.fresh("ret_val")
            if isinstance(self.ret_vals, list):
                names = None
            else:
                out.append(_assign(self.ret_vals, s.value))
                names = [self.ret_vals]
        if names is None:  # let the front end give its usual error about mixed returns
            return [s]
        out.append(_assign(self.ret_flag, _const(True)))
        for flag in breaks:
            out.append(_assign(flag, _const(True)))
        for n in out:
            ast.copy_location(n, s)
        return out


def _literal(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and \
            isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, int):
        return -node.operand.value
    return None


def _assign_target(target, value):
    return ast.Assign(targets=[target], value=value)


def _is_checkpoint_call(node) -> bool:
    if not (isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords):
        return False
    f = node.func
    return (isinstance(f, ast.Name) and f.id == "checkpoint") or \
        (isinstance(f, ast.Attribute) and f.attr == "checkpoint")


def _split_checkpointed(tree: ast.FunctionDef, loc) -> None:
    """``for t in checkpoint(range(a, b, s)):`` -> a loop over ~sqrt(n) segments around a loop
    over one segment (see `srcgrad.checkpointing`)."""
    d = _Desugarer(tree)

    def fail(node, message):
        from .errors import UnsupportedError

        raise UnsupportedError(message, loc(node) if loc else None, construct="checkpoint")

    def visit(stmts):
        out = []
        for s in stmts:
            if isinstance(s, ast.For) and _is_checkpoint_call(s.iter):
                inner = next((n for b in s.body for n in ast.walk(b)
                              if isinstance(n, ast.For) and _is_checkpoint_call(n.iter)), None)
                if inner is not None:
                    fail(inner, "checkpointed loops cannot be nested: checkpoint the outer loop only "
                                "(its segments are re-run with ordinary tapes)")
            for field in ("body", "orelse"):
                if isinstance(getattr(s, field, None), list):
                    setattr(s, field, visit(getattr(s, field)))
            if not (isinstance(s, ast.For) and _is_checkpoint_call(s.iter)):
                out.append(s)
                continue
            rng = s.iter.args[0]
            if not (isinstance(rng, ast.Call) and isinstance(rng.func, ast.Name) and
                    rng.func.id == "range" and 1 <= len(rng.args) <= 3 and not rng.keywords):
                fail(s, "checkpoint() takes a range(...): for t in checkpoint(range(n))")
            if any(isinstance(n, (ast.Break, ast.Continue, ast.Return)) for n in ast.walk(s)):
                fail(s, "a checkpointed loop cannot contain break, continue or return")
            args = list(rng.args)
            start, stop, step = ((_const(0), args[0], _const(1)) if len(args) == 1 else
                                 (args[0], args[1], _const(1)) if len(args) == 2 else args)
            step_value = _literal(step)
            if step_value is None or step_value <= 0:
                fail(s, "a checkpointed range needs a positive literal step")
            a, n, seg = d.fresh("ckpt_start"), d.fresh("ckpt_n"), d.fresh("ckpt_len")
            segvar = d.fresh("ckpt_seg")
            src = (f"{a} = 0\n{n} = max(0, (0 - {a} + {step_value - 1}) // {step_value})\n"
                   f"{seg} = max(1, int({n} ** 0.5))\n"
                   f"for {segvar} in range(0, {n}, {seg}):\n"
                   f"    for _ in range({a} + {segvar} * {step_value}, "
                   f"{a} + min({segvar} + {seg}, {n}) * {step_value}, {step_value}):\n"
                   f"        pass\n")
            new = ast.parse(src).body
            new[0].value = start
            new[1].value.args[1].left.left.left = stop  # (stop - a + s - 1) // s
            new[3].body[0].target = s.target
            new[3].body[0].body = s.body
            for node in new:
                ast.copy_location(node, s)
            out.extend(new)
        return out

    tree.body = visit(tree.body)


def desugar_function(tree: ast.FunctionDef, loc=None) -> ast.FunctionDef:
    """A copy of ``tree`` without break/continue/return inside loops (the tree is unchanged);
    loops over ``checkpoint(range(...))`` are split into segments."""
    if any(isinstance(n, ast.For) and _is_checkpoint_call(n.iter) for n in ast.walk(tree)):
        tree = copy.deepcopy(tree)
        _split_checkpointed(tree, loc)
        ast.fix_missing_locations(tree)
    has_exit = False
    for node in ast.walk(tree):
        if isinstance(node, _LOOPS):
            for n in ast.walk(node):
                if isinstance(n, (ast.Break, ast.Continue, ast.Return)):
                    has_exit = True
    if not has_exit:
        return tree
    tree = copy.deepcopy(tree)
    d = _Desugarer(tree)
    d.function(tree)
    if d.ret_flag is not None:
        init = ast.copy_location(_assign(d.ret_flag, _const(False)), tree.body[0])
        tree.body.insert(_first_code(tree.body), init)
    ast.fix_missing_locations(tree)
    return tree


def _first_code(body) -> int:
    """Index after a docstring."""
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        return 1
    return 0


def show(tree: ast.FunctionDef) -> str:
    """The desugared function as Python source (for debugging and tests)."""
    return ast.unparse(desugar_function(tree))
