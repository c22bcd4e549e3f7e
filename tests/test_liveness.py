"""The flow-sensitive dead-assignment pass (srcgrad/liveness.py): IR-level cases and gradients."""

import numpy as np

import srcgrad
from srcgrad.ir import Block, Break, Const, Eqn, For, Func, If, Var, walk
from srcgrad.liveness import prune
from srcgrad.testing import check_grad


def V(name):
    return Var(name)


def eq(prim, ins, out):
    return Eqn(prim, tuple(ins), (V(out),) if out else (), {}, None)


def names_assigned(func):
    return [o.name for s in walk(func.body) if isinstance(s, Eqn) for o in s.outs]


def prims(func):
    return [s.prim for s in walk(func.body) if isinstance(s, Eqn)]


def test_overwritten_before_read_is_removed_and_the_live_one_kept():
    body = Block([eq("copy", [Const(0.0)], "y"),          # dead: rewritten before any read
                  eq("mul", [V("x"), Const(2.0)], "y"),
                  eq("add", [V("y"), Const(1.0)], "z"),
                  eq("neg", [V("x")], "unused")])
    f = prune(Func("f", [V("x")], body, V("z")))
    assert [s.ins for s in f.body.stmts if s.outs[0].name == "y"] == [(V("x"), Const(2.0))]
    assert "unused" not in names_assigned(f)
    assert names_assigned(f) == ["y", "z"]


def test_loop_carried_value_and_its_initialisation_are_kept():
    loop = For(V("i"), Const(0), Const(3), Const(1), Block([eq("add", [V("s"), V("x")], "s"),
                                                           eq("mul", [V("s"), V("s")], "dead")]))
    f = prune(Func("f", [V("x")], Block([eq("copy", [Const(0.0)], "s"), loop]), V("s")))
    assert names_assigned(f) == ["s", "s"]


def test_value_read_in_the_next_iteration_is_kept():
    # t = prev * 2 reads prev from the previous iteration; prev's assignment must survive.
    loop = For(V("i"), Const(0), Const(3), Const(1), Block([eq("mul", [V("prev"), Const(2.0)], "t"),
                                                           eq("copy", [V("x")], "prev")]))
    f = prune(Func("f", [V("x")], Block([eq("copy", [Const(1.0)], "prev"), eq("copy", [Const(0.0)], "t"),
                                         loop]), V("t")))
    assert names_assigned(f).count("prev") == 2


def test_value_assigned_before_break_reaches_the_code_after_the_loop():
    then = Block([eq("copy", [V("i")], "last"), Break()])
    loop = For(V("i"), Const(0), Const(9), Const(1),
               Block([eq("copy", [V("x")], "last"),  # dead: rewritten on both paths below
                      eq("gt", [V("i"), Const(4)], "c"),
                      If(V("c"), then, Block([eq("neg", [V("x")], "last")]))]))
    f = prune(Func("f", [V("x")], Block([eq("copy", [Const(0.0)], "last"), loop]), V("last")))
    lasts = [s for s in walk(f.body) if isinstance(s, Eqn) and s.outs and s.outs[0].name == "last"]
    assert [s.prim for s in lasts] == ["copy", "copy", "neg"]  # init (zero trips), break path, else path
    assert lasts[1].ins == (V("i"),)


def test_list_tape_removed_only_when_no_restored_value_is_read():
    def program(read_after_pop):
        fwd = For(V("i"), Const(0), Const(3), Const(1),
                  Block([Eqn("tape_push", (V("T"), V("a")), (), {}, None), eq("mul", [V("x"), V("i")], "a")]))
        rev_body = [Eqn("tape_pop", (V("T"),), (V("a"),), {}, None)]
        if read_after_pop:
            rev_body.append(eq("add", [V("acc"), V("a")], "acc"))
        rev = For(V("j"), Const(0), Const(3), Const(1), Block(rev_body))
        body = Block([Eqn("tape_new", (), (V("T"),), {}, None), eq("copy", [Const(0.0)], "a"),
                      eq("copy", [Const(0.0)], "acc"), fwd, rev])
        return prune(Func("f", [V("x")], body, V("acc")))

    assert not {"tape_new", "tape_push", "tape_pop"} & set(prims(program(False)))
    assert prims(program(True)).count("tape_pop") == 1
    assert prims(program(True)).count("tape_push") == 1


def _while_break(x, n):
    v = 0.0
    acc = 0.0
    for _ in range(n):
        u = x * x
        v = u + 1.0
        acc += v
        if acc > 100.0:
            break
    return acc + v


def _array_recurrence(x, w):
    s = 0.0
    h = x.copy()
    for _ in range(5):
        a = h * w
        h = np.tanh(a + 1.0)
        s += np.sum(h)
    return s


def test_branch_flags_of_a_loop_with_break_are_not_taped():
    g = srcgrad.grad(_while_break)
    assert "tape_" not in g.source_for(0.3, 7)
    check_grad(_while_break, 0.3, 7, argnums=0)
    check_grad(_while_break, 3.1, 40, argnums=0)  # breaks after 10 steps


def test_array_loop_gradient_after_pruning():
    x, w = np.linspace(0.1, 0.5, 4), np.linspace(-1.0, 1.0, 4)
    g = srcgrad.grad(_array_recurrence, argnums=(0, 1))
    generated = g.transform.specialize_for_values((x, w)).built.generated
    resets = [s for s in walk(generated.body) if isinstance(s, Eqn) and s.prim == "zeros_like_any"]
    assert len(resets) <= 2  # the two accumulators' initial zeros, no per-iteration resets
    check_grad(_array_recurrence, x, w, argnums=(0, 1))
