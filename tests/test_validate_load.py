"""The load-shape label of LLM rows: which branch of the harness a row takes (the groups it
reports, ``validate --json`` ``heldout.by_class.<class>.load``, are checked in test_validate.py)."""

from __future__ import annotations

import pytest

from deployscope.validate.llm_rows import load_shape


@pytest.mark.parametrize(
    ("metric", "scenario", "shape"),
    [
        ("offline_throughput", "Offline", "offline"),
        ("server_throughput_completed", "Server", "server scenario"),
        ("interactive_mean_ttft", "Interactive", "server scenario"),
        ("throughput_per_gpu", "offline static batch (max throughput)", "static batch"),
        ("output_throughput", "offline static batch, batch 64", "static batch"),
        ("ttft", "offline", "static batch"),
        ("end_to_end_batch_latency", "offline", "static batch"),
        ("mean_ttft", "online serving, concurrency=16", "closed loop"),
        ("output_throughput", "online serving, concurrency=4", "closed loop"),
        ("mean_tpot", "online serving, request rate QPS=INF", "burst"),
        ("output_throughput", "online serving, request rate QPS=INF", "burst"),
        ("mean_ttft", "online serving, request rate QPS=2.5", "request rate"),
        ("mean_ttft", "online serving", "other"),
        ("mean_ttft", "online serving, concurrency=many", "other"),
    ],
)
def test_load_shape_follows_the_branch_the_harness_takes(metric, scenario, shape):
    assert load_shape({"metric": metric, "scenario": scenario}) == shape


def test_a_closed_loop_with_an_unbounded_rate_is_a_closed_loop():
    # the clients bound the load whatever the rate: the harness simulates the closed loop
    assert load_shape({"metric": "mean_ttft", "scenario": "online serving, QPS=INF, concurrency=8"}) == "closed loop"

