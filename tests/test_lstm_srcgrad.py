"""The ADBench LSTM objective (benchmarks/adbench/lstm.py, NumPy as a user writes it)
differentiated by srcgrad: objective and gradient against reference/lstm_l2_c1024_expected.txt."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running the file without installing the repo
    sys.path.insert(0, str(ROOT))

import srcgrad as sg  # noqa: E402
from benchmarks.adbench import data, lstm  # noqa: E402

OBJECTIVE = getattr(lstm, "lstm_objective_sg", lstm.lstm_objective)


@pytest.fixture(scope="module")
def l2():
    if data.adbench_dir() is None:
        msg = (f"ADBench data not found at {data.default_adbench_path()}; set {data.ENV_VAR} to "
               "the folder holding data/lstm and reference/")
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    inp = data.read_lstm("data/lstm/lstm_l2_c1024.txt")
    return inp, data.read_lstm_reference()


def test_small_lstm_against_hand_adjoint_python_backend():
    """No data needed: a small random instance, generated code run as plain Python.  Catches
    tape bugs cheaply (the old row of st saved as a view, overwritten by the store)."""
    rng = np.random.default_rng(0)
    layers, b, c = 2, 3, 5
    args = (rng.standard_normal((2 * layers, 4 * b)), rng.standard_normal((3, b)),
            rng.standard_normal((2 * layers, b)), (rng.random((c, b)) > 0.5).astype(float))
    value, (d_main, d_extra) = sg.value_and_grad(OBJECTIVE, argnums=(0, 1),
                                                 backend="python")(*args)
    hand_value, hand_main, hand_extra = lstm.lstm_grad_hand(*args)
    assert value == pytest.approx(hand_value, rel=1e-14)
    np.testing.assert_allclose(d_main, hand_main, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(d_extra, hand_extra, rtol=1e-12, atol=1e-15)


def test_objective_and_gradient_match_reference(l2):
    inp, ref = l2
    state0 = inp.state.copy()
    args = (inp.main_params, inp.extra_params, inp.state, inp.sequence)
    value, (d_main, d_extra) = sg.value_and_grad(OBJECTIVE, argnums=(0, 1))(*args)
    np.testing.assert_array_equal(inp.state, state0)  # the caller's state is not modified
    assert abs(value - ref["objective"]) <= 1e-8 * abs(ref["objective"])  # 8 digits given
    assert value == pytest.approx(lstm.lstm_objective(*args), rel=1e-13)
    assert d_main.shape == inp.main_params.shape and d_extra.shape == inp.extra_params.shape
    grad = np.concatenate([d_main.ravel(), d_extra.ravel()])
    expected = ref["gradient"]
    np.testing.assert_allclose(grad, expected, rtol=1e-8, atol=1e-8 * np.abs(expected).max())
    zero = expected == 0.0  # parameters the data never reaches get exactly nothing
    assert np.all(grad[zero] == 0.0)
    # and against the hand-written adjoint, much tighter
    _, hand_main, hand_extra = lstm.lstm_grad_hand(*args)
    np.testing.assert_allclose(d_main, hand_main, rtol=1e-11, atol=1e-16)
    np.testing.assert_allclose(d_extra, hand_extra, rtol=1e-11, atol=1e-16)


def test_plain_call_and_jit_agree(l2):
    inp, ref = l2
    args = (inp.main_params, inp.extra_params, inp.state, inp.sequence)
    assert sg.jit(OBJECTIVE)(*args) == pytest.approx(OBJECTIVE(*args), rel=1e-13)
