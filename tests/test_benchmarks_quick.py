"""Smoke test of the benchmark suite: one tiny workload, in-process, 2 rounds, no peers."""

import json

import numpy as np

from benchmarks import harness, report, workloads

RECORD_FIELDS = {"name", "family", "description", "params", "time_unit", "status", "imports_s", "tools", "wall_s",
                 "cpu_share"}
ROW_FIELDS = {"tool", "variant", "label", "kind", "status", "check", "time", "setup_s", "first_call_s",
              "compile", "ratios", "info"}
TIME_FIELDS = {"median_s", "q1_s", "q3_s", "min_s", "max_s", "rounds", "samples_s"}


def _run_tiny():
    (case,) = workloads.select(quick=True, only="tiny")
    settings = harness.Settings.for_mode(True, rounds=2, peers=False, min_batch_s=0.002, warmup_s=0.01)
    return settings, harness.run_case(case, settings)


def test_tiny_workload_checks_and_record(tmp_path):
    settings, record = _run_tiny()
    assert record["status"] == "ok"
    assert RECORD_FIELDS <= record.keys()
    rows = {row["label"]: row for row in record["tools"]}
    for row in rows.values():
        assert ROW_FIELDS <= row.keys()

    hand, fd, objective = rows["hand"], rows["fd"], rows["objective"]
    assert hand["status"] == "ok" and hand["check"]["reference"] == "hand"
    assert fd["status"] == "ok" and fd["check"]["rel_err"] < 1e-6
    assert objective["status"] == "ok" and objective["kind"] == "objective"
    for row in (hand, fd, objective):
        assert TIME_FIELDS <= row["time"].keys()
        assert row["time"]["rounds"] == 2 and 0 < row["time"]["median_s"] < 1.0
    assert hand["ratios"]["hand"] == 1.0 and hand["ratios"]["objective"] > 0
    peer_rows = [row for row in record["tools"] if row["tool"] in harness.PEER_TOOLS]
    assert peer_rows and all(row["status"] == "skipped (--no-peers)" for row in peer_rows)

    # srcgrad may not support everything yet, but it must never be silently wrong.
    src = rows["srcgrad"]
    assert src["status"] == "ok" or src["status"].startswith("error"), src["status"]
    if src["status"] == "ok":
        assert src["check"]["rel_err"] <= 1e-8 and src["compile"]["cold_s"] > 0

    result = report.assemble([record], settings, ["--quick"], 1.0)
    path = report.write_json(result, tmp_path)
    loaded = json.loads((tmp_path / "latest.json").read_text())
    assert path.exists() and loaded["schema"] == report.SCHEMA and loaded["mode"] == "quick"
    assert {"python", "cpu", "cores", "versions"} <= loaded["machine"].keys()
    assert "tiny" in report.table(result) and "| tiny" in report.markdown(result)


def test_relative_error_and_stats():
    ref = np.array([1.0, -2.0])
    assert harness.rel_err(ref.copy(), ref) == 0.0
    assert abs(harness.rel_err(np.array([1.0, -2.2]), ref) - 0.1) < 1e-12
    assert harness.rel_err(np.array([1.0]), ref) == float("inf")
    assert harness.rel_err(np.array([np.nan, 1.0]), ref) == float("inf")
    s = harness.stats([3.0, 1.0, 2.0])
    assert s["median_s"] == 2.0 and s["min_s"] == 1.0 and s["max_s"] == 3.0 and s["rounds"] == 3
