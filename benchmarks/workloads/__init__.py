"""The workload registry: each family module defines its cases once, in plain Python/NumPy.

A family module exposes `cases(quick: bool) -> list[Case]`. A case names its
inputs, the plain primal function srcgrad differentiates, and one `ToolSpec`
per tool (see benchmarks.peers). The first spec whose tool is "hand" gives the
reference gradient every other tool is checked against.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

FAMILIES = ("tiny", "rosenbrock", "logreg", "oscillator", "adbench_gmm", "adbench_lstm", "scipy_lbfgs")


@dataclass
class Case:
    """One benchmarked problem at one size."""

    name: str  # unique, e.g. "rosenbrock n=1000"
    family: str
    description: str
    make_inputs: Callable[[], tuple]  # deterministic arguments of the primal
    tools: list = field(default_factory=list)  # list[benchmarks.peers.ToolSpec]
    params: dict = field(default_factory=dict)  # sizes, shown in the record
    unavailable: str = ""  # non-empty: the case cannot run here ("unavailable: <reason>")
    time_unit: str = "call"  # what one timed call is ("gradient", "optimisation run")


def all_cases(quick: bool) -> list[Case]:
    """Every case of every family, in a fixed order; a family that fails to import becomes one
    unavailable case so the rest of the run goes on."""
    out: list[Case] = []
    for family in FAMILIES:
        try:
            module = importlib.import_module(f"benchmarks.workloads.{family}")
            out.extend(module.cases(quick))
        except Exception as exc:  # noqa: BLE001 - report, never crash the run
            first = (str(exc).splitlines() or [""])[0]
            out.append(Case(family, family, "", tuple, unavailable=f"{type(exc).__name__}: {first}"))
    return out


def select(quick: bool, only: str | None = None) -> list[Case]:
    """Cases whose name contains `only` (case-insensitive substring), all when None."""
    cases = all_cases(quick)
    if only:
        cases = [c for c in cases if only.lower() in c.name.lower()]
    return cases


def find(name: str, quick: bool) -> Case:
    """The case with exactly this name."""
    for case in all_cases(quick):
        if case.name == name:
            return case
    raise KeyError(f"no workload named {name!r}")
