"""Smaller generated code for faster compiles: sigmoid recognition (srcgrad/sigmoid.py), no-op
casts (noop_casts.py), copy coalescing (coalesce.py), loop-local CSE (local_cse.py) and the
dispatcher compiling the generated body itself (backends/body_compiler.py).  Every gradient is
checked against finite differences, an analytic answer or the hand-written LSTM adjoint."""

import sys
from pathlib import Path

import numba
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import srcgrad  # noqa: E402
from benchmarks.adbench import lstm  # noqa: E402
from srcgrad.ir import Block, Const, Eqn, For, Func, Store, Var, walk  # noqa: E402
from srcgrad.local_cse import local_cse  # noqa: E402
from srcgrad.sigmoid import fuse_sigmoid  # noqa: E402
from srcgrad.testing import check_grad  # noqa: E402
from srcgrad.types import F64, I64, ArrayType  # noqa: E402


def _code(src):
    """The generated source without its comments (which quote the user's lines)."""
    return "\n".join(line for line in src.splitlines() if not line.lstrip().startswith("#"))


def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


# --- sigmoid -----------------------------------------------------------------------------------

def gates(x, w):
    total = 0.0
    for i in range(w.shape[0]):
        s = _sig(x * w[i])  # arrays
        total += np.sum(s * s)
    return total


def gates_scalar(x, w):
    total = 0.0
    for i in range(x.shape[0]):
        for k in range(w.shape[0]):
            total += w[k] * (1 / (1 + np.exp(-(x[i] * w[k]))))  # int one, scalars
    return total


def swapped_sum(x):
    total = 0.0
    for i in range(x.shape[0]):
        total += 1.0 / (np.exp(-x[i]) + 1.0)  # exp(-v) + 1
    return total


def not_a_sigmoid(x):
    total = 0.0
    for i in range(x.shape[0]):
        e = np.exp(-x[i])
        total += 2.0 / (1.0 + e) + e  # the exp is read twice: no fusion, still right
    return total


def test_sigmoid_arrays_and_scalars_against_finite_differences():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(5), rng.standard_normal(3)
    check_grad(gates, x, w, argnums=(0, 1))
    check_grad(gates_scalar, x, w, argnums=(0, 1))
    check_grad(swapped_sum, x)
    check_grad(not_a_sigmoid, x)
    src = _code(srcgrad.grad(gates, argnums=(0, 1)).source)
    assert "rt.sigmoid_f64(" in src and "rt.ewu.exp(" not in src
    src = _code(srcgrad.grad(gates_scalar, argnums=(0, 1)).source)
    assert src.count("np.exp(") == 1  # the forward sigmoid only; its adjoint uses s
    assert "np.exp(" in _code(srcgrad.grad(not_a_sigmoid).source_for(x))


def test_sigmoid_gradient_is_finite_in_both_tails():
    x = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    g = srcgrad.grad(swapped_sum)(x)
    with np.errstate(over="ignore"):
        s = 1.0 / (1.0 + np.exp(-x))
    np.testing.assert_allclose(g, s * (1.0 - s), rtol=1e-12, atol=0.0)
    assert np.all(np.isfinite(g))


def test_sigmoid_values_bitwise_unchanged():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(7), rng.standard_normal(4)
    value, _ = srcgrad.value_and_grad(gates, argnums=(0, 1))(x, w)
    assert value == gates(x, w)


def test_sigmoid_hvp_against_differences_of_the_gradient():
    rng = np.random.default_rng(2)
    x, w, v = rng.standard_normal(4), rng.standard_normal(3), rng.standard_normal(4)
    hv = srcgrad.hvp(gates_scalar, argnums=0)(x, w, v)  # (hvp has no rule for np.sum's adjoint)
    g = srcgrad.grad(gates_scalar, argnums=0)
    eps = 1e-5
    fd = (g(x + eps * v, w) - g(x - eps * v, w)) / (2 * eps)
    np.testing.assert_allclose(hv, fd, rtol=1e-6, atol=1e-8)


def _typed_func(stmts, params, types, result):
    f = Func("f", [Var(p) for p in params], Block(stmts), Var(result))
    f.types = dict(types)
    return f


def test_fuse_sigmoid_needs_adjacent_single_use_links():
    def eq(prim, ins, out):
        return Eqn(prim, tuple(ins), (Var(out),), {}, None)

    chain = [eq("neg", [Var("v")], "a"), eq("exp", [Var("a")], "b"),
             eq("add", [Const(1.0), Var("b")], "c"), eq("truediv", [Const(1.0), Var("c")], "d")]
    types = {n: F64 for n in "vabcd"}
    body = [For(Var("i"), Const(0), Const(3), Const(1), Block(list(chain)))]
    f = _typed_func(body, ["v"], dict(types, i=I64), "d")
    assert fuse_sigmoid(f) == 1
    assert [s.prim for s in walk(f.body) if isinstance(s, Eqn)] == ["sigmoid"]
    # b read twice: the chain stays
    twice = [*chain, eq("mul", [Var("b"), Var("d")], "e")]
    f = _typed_func(twice, ["v"], dict(types, e=F64), "e")
    assert fuse_sigmoid(f) == 0
    # a store between the links: not adjacent, the chain stays
    arr = ArrayType("float64", 1)
    split = [*chain[:2], Store(Var("buf"), (Const(0),), Var("v")), *chain[2:]]
    f = _typed_func(split, ["v", "buf"], dict(types, buf=arr), "d")
    assert fuse_sigmoid(f) == 0


# --- copies, casts, CSE ------------------------------------------------------------------------

def rotate(x):
    a = x * 1.0
    b = 2.0 * x
    for i in range(3):
        t = a * b + float(i)
        b = a  # reads a between t's definition and its copy into a
        a = t
    return np.sum(a * b)


def fib_like(x):
    a = x[0]
    b = x[1]
    for _i in range(4):
        a, b = b, a * b + x[2]
    return a + b


def stores_between_reads(x):
    y = x.copy()
    s = 0.0
    for i in range(y.shape[0]):
        a = y[i] * y[i]
        y[i] = a + 1.0
        s += y[i] * y[i] + (2 * i) * y[i] + (2 * i + 1) * a
    return s


def chain_in_loop(x, w):
    h = x
    for i in range(w.shape[0]):
        h = np.tanh(h * w[i] + 0.5)  # the tanh/add operands only cast: nothing to tape for them
    return np.sum(np.exp(h))


def test_rotations_and_tuple_swaps_keep_their_order():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(4)
    check_grad(rotate, x)
    assert srcgrad.grad(rotate).__call__(x).shape == x.shape
    assert srcgrad.value_and_grad(rotate)(x)[0] == pytest.approx(rotate(x), rel=1e-14)
    check_grad(fib_like, x)


def test_scalar_reads_are_not_merged_across_a_store():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(5)
    value, g = srcgrad.value_and_grad(stores_between_reads)(x)
    assert value == pytest.approx(stores_between_reads(x), rel=1e-14)
    check_grad(stores_between_reads, x)


def test_local_cse_merges_index_arithmetic_in_a_loop_body():
    def eq(prim, ins, out):
        return Eqn(prim, tuple(ins), (Var(out),), {}, None)

    body = Block([eq("mul", [Const(2), Var("j")], "t1"), eq("mul", [Const(2), Var("j")], "t2"),
                  eq("add", [Var("t1"), Var("t2")], "t3"), eq("add", [Var("s"), Var("t3")], "s2"),
                  eq("copy", [Var("s2")], "s")])
    loop = For(Var("j"), Const(0), Const(4), Const(1), body)
    f = Func("f", [Var("s0")], Block([eq("copy", [Var("s0")], "s"), loop]), Var("s"))
    f.types = {n: I64 for n in ("s0", "s", "j", "t1", "t2", "t3", "s2")}
    assert local_cse(f) == 1
    adds = [s for s in walk(f.body) if isinstance(s, Eqn) and s.prim == "add"]
    assert adds[0].ins == (Var("t1"), Var("t1"))


def test_no_op_casts_leave_nothing_to_tape():
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal(6), rng.standard_normal(3)
    check_grad(chain_in_loop, x, w, argnums=(0, 1))
    src = _code(srcgrad.grad(chain_in_loop, argnums=(0, 1)).source)
    # h (read by the mul adjoint) and the tanh result (read by its own adjoint) are the only
    # values the loop needs back: the add result and the tanh input are not saved
    assert src.count(".append(") <= 2


# --- the LSTM and the dispatcher ---------------------------------------------------------------

def _lstm_args(layers=2, b=3, c=5, seed=6):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((2 * layers, 4 * b)), rng.standard_normal((3, b)),
            rng.standard_normal((2 * layers, b)), rng.standard_normal((c, b)))


@pytest.mark.parametrize("form", ["numpy", "loops"])
def test_lstm_gradient_matches_the_hand_adjoint(form):
    fn = lstm.lstm_objective if form == "numpy" else lstm.lstm_objective_loops
    args = _lstm_args()
    value, (d_main, d_extra) = srcgrad.value_and_grad(fn, argnums=(0, 1))(*args)
    hand_value, hand_main, hand_extra = lstm.lstm_grad_hand(*args)
    assert value == pytest.approx(hand_value, rel=1e-13)
    np.testing.assert_allclose(d_main, hand_main, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(d_extra, hand_extra, rtol=1e-11, atol=1e-14)


def test_gradient_called_from_user_njit_code_and_with_fastmath():
    g = srcgrad.grad(gates, argnums=0)

    @numba.njit
    def user(x, w):
        return g(x, w).sum()

    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(4), rng.standard_normal(2)
    assert user(x, w) == pytest.approx(g(x, w).sum(), rel=1e-14)
    fast = srcgrad.grad(gates, argnums=0, fastmath=True)(x, w)
    np.testing.assert_allclose(fast, g(x, w), rtol=1e-12)


# --- shape witnesses ---------------------------------------------------------------------------

def affine_chain(x, w, b):
    h = x
    for i in range(w.shape[0]):
        h = np.tanh(h * w[i] + b)  # the product is read by the add adjoint only for its length
    return np.sum(h * h)


def growing_state(c0, f, g):
    c = c0  # length 1 at first, broadcast to f's length by the first update
    for i in range(3):
        c = c * f + g * float(i)
    return np.sum(c * c)


def indexed(x, w):
    t = x * w
    u = t + x
    return (u * u)[1]


def test_products_are_not_saved_for_their_length():
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal(5), rng.standard_normal((3, 5)), rng.standard_normal(5)
    check_grad(affine_chain, x, w, b, argnums=(0, 1, 2))
    src = _code(srcgrad.grad(affine_chain, argnums=(0, 1, 2)).source)
    assert "rt.unbroadcast_len(" in src
    assert src.count(".append(") <= 2  # h and the tanh result, not the product or the sum


def test_length_one_operands_still_sum():
    rng = np.random.default_rng(9)
    # x of length 1 against rows of length 5; b of length 1 too
    x, w, b = rng.standard_normal(1), rng.standard_normal((3, 5)), rng.standard_normal(1)
    check_grad(affine_chain, x, w, b, argnums=(0, 1, 2))
    c0, f, g = rng.standard_normal(1), rng.standard_normal(4), rng.standard_normal(4)
    check_grad(growing_state, c0, f, g, argnums=(0, 1, 2))
    assert srcgrad.grad(growing_state)(c0, f, g).shape == (1,)


def test_hvp_through_a_length_witness():
    rng = np.random.default_rng(10)
    x, w, v = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)
    check_grad(indexed, x, w, argnums=(0, 1))
    assert "rt.unbroadcast_len(" in _code(srcgrad.grad(indexed).source_for(x, w))
    hv = srcgrad.hvp(indexed, argnums=0)(x, w, v)
    g = srcgrad.grad(indexed, argnums=0)
    eps = 1e-5
    fd = (g(x + eps * v, w) - g(x - eps * v, w)) / (2 * eps)
    np.testing.assert_allclose(hv, fd, rtol=1e-6, atol=1e-8)
