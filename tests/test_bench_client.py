"""deployscope bench against the SSE test server (known, injected timings and faults), in a
process of its own on 127.0.0.1: accuracy, faults, bounds, warm-up, load patterns, CLI, store,
export. Metric formulas are checked on hand-built records."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import time

import pytest

from deployscope.bench import metrics
from deployscope.bench.client import ClientConfig, normalize_base_url
from deployscope.bench.load import LengthDist, LoadSpec, Run, run_load, run_slo_search, run_sweep
from deployscope.bench.sse_server import ServerProcess
from deployscope.cli import main


@pytest.fixture(scope="module")
def timed_server():
    with ServerProcess(ttft=0.2, itl=0.02) as srv:
        yield srv


@pytest.fixture(scope="module")
def fast_server():
    with ServerProcess(ttft=0.005, itl=0.002) as srv:
        yield srv


def _run(url, transport="raw", api="chat", **kw):
    spec = LoadSpec(**{"concurrency": 4, "requests": 8, "duration_s": 30, "input": LengthDist(16), "output": LengthDist(10), **kw})
    cfg = ClientConfig(url, api=api, model="m", transport=transport, read_timeout_s=10.0)
    return asyncio.run(run_load(cfg, spec))


# ------------------------------------------------------------------------------------ accuracy
@pytest.mark.parametrize("transport,api,conc", [("raw", "chat", 16), ("raw", "completions", 16), ("httpx", "chat", 4)])
def test_injected_ttft_and_tpot_recovered_within_5_percent(timed_server, transport, api, conc):
    # injected: TTFT 200 ms, 20 ms between tokens, 20 tokens; up to 16 streams at once.
    # httpx spends 1-3 ms of CPU per request before the bytes leave, inside the measured TTFT:
    # on a busy 2-core host that is up to ~10 ms; the default (raw) transport stays within 5 %.
    tol = 0.05 if transport == "raw" else 0.15
    for attempt in range(2):  # one more try if an oversubscribed host (not the client) delayed a wave
        run = _run(timed_server.url + "/v1", transport=transport, api=api, concurrency=conc, requests=2 * conc, warmup=conc,
                   output=LengthDist(20))
        s = metrics.summarize(run.records)
        if attempt == 0 and abs(s["ttft_s"]["mean"] / 0.200 - 1) > tol and os.getloadavg()[0] > (os.cpu_count() or 1):
            continue
        break
    assert s["completed"] == 2 * conc and s["errors"] == 0
    assert s["ttft_s"]["mean"] == pytest.approx(0.200, rel=tol)
    assert s["ttft_s"]["p50"] == pytest.approx(0.200, rel=tol)
    assert s["tpot_s"]["mean"] == pytest.approx(0.020, rel=0.05)
    assert s["itl_s"]["mean"] == pytest.approx(0.020, rel=0.05)
    assert s["e2e_s"]["mean"] == pytest.approx(0.200 + 19 * 0.020, rel=0.05)
    assert s["token_source"] == {"usage": 2 * conc}
    assert s["output_tokens"] == 2 * conc * 20


# ------------------------------------------------------------------------------------ faults
def test_faults_are_counted_by_kind_and_never_hang():
    faults = "ok,http500,ok,truncate,ok,reset,ok,hang,http429,refuse"
    with ServerProcess(ttft=0.01, itl=0.002, faults=faults) as srv:
        spec = LoadSpec(concurrency=4, requests=20, duration_s=20, input=LengthDist(8), output=LengthDist(10))
        cfg = ClientConfig(srv.url, api="chat", model="m", read_timeout_s=0.5)
        t = time.perf_counter()
        run = asyncio.run(run_load(cfg, spec))
        wall = time.perf_counter() - t
    s = metrics.summarize(run.records)
    assert wall < 5
    assert s["completed"] == 8 and s["errors"] == 12
    assert s["error_kinds"] == {"http_500": 2, "http_429": 2, "truncated": 2, "reset": 4, "timeout": 2}
    r500 = next(r for r in run.records if r.error == "http_500")
    assert r500.status == 500 and "injected" in r500.error_detail
    trunc = next(r for r in run.records if r.error == "truncated")
    assert len(trunc.chunks) == 5  # half of the 10 tokens arrived before the cut


def test_duration_bound_cancels_in_flight_and_keeps_records():
    with ServerProcess(ttft=0.01, itl=0.002, faults="ok,hang") as srv:
        spec = LoadSpec(concurrency=2, requests=50, duration_s=1.0, input=LengthDist(8), output=LengthDist(5))
        cfg = ClientConfig(srv.url, model="m", read_timeout_s=30)
        t = time.perf_counter()
        run = asyncio.run(run_load(cfg, spec))
        wall = time.perf_counter() - t
    assert wall < 3
    assert run.status == "time_limit"
    s = metrics.summarize(run.records)
    assert s["cancelled"] >= 1 and s["completed"] >= 1 and s["errors"] == 0


def test_interrupt_keeps_partial_results(fast_server):
    run = Run()

    async def go():
        spec = LoadSpec(concurrency=2, requests=10_000, duration_s=60, input=LengthDist(8), output=LengthDist(5))
        task = asyncio.ensure_future(run_load(ClientConfig(fast_server.url, model="m"), spec, run=run))
        await asyncio.sleep(1.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(go())
    assert run.status == "interrupted"
    s = metrics.summarize(run.records)
    assert s["completed"] > 0 and s["requests"] < 10_000


def test_connection_refused_is_an_error_not_a_crash():
    from llama_server import free_port

    run = _run(f"http://127.0.0.1:{free_port()}", requests=3)
    s = metrics.summarize(run.records)
    assert s["completed"] == 0 and s["error_kinds"] == {"connect": 3}


def test_a_server_that_drops_keep_alive_connections_costs_at_most_one_request():
    # every reused connection is reset before a reply; after the first, the client stops reusing
    # connections to that server (llama.cpp's server closes each one after its stream)
    with ServerProcess(ttft=0.0, itl=0.001, one_per_connection=True) as srv:
        spec = LoadSpec(concurrency=1, requests=12, duration_s=20, input=LengthDist(8), output=LengthDist(5))
        run = asyncio.run(run_load(ClientConfig(srv.url, api="chat", model="m"), spec))
    s = metrics.summarize(run.records)
    assert s["completed"] + s["errors"] == 12
    assert s["errors"] <= 1 and set(s["error_kinds"]) <= {"reset"}, s["error_kinds"]


# ------------------------------------------------------------------------------------ load patterns
def test_warmup_is_sent_first_and_left_out(fast_server):
    run = _run(fast_server.url, concurrency=2, requests=5, warmup=3)
    assert [r.phase for r in sorted(run.records, key=lambda r: r.send)][:3] == ["warmup"] * 3
    s = metrics.summarize(run.records)
    assert len(run.records) == 8 and s["requests"] == 5 and s["completed"] == 5


def test_fixed_concurrency_holds_its_level(fast_server):
    run = _run(fast_server.url, concurrency=8, requests=40, output=LengthDist(20))
    s = metrics.summarize(run.records)
    assert s["peak_concurrency"] == 8 and s["completed"] == 40


@pytest.mark.parametrize("arrival", ["constant", "poisson"])
def test_rate_mode_offers_the_rate(fast_server, arrival):
    run = _run(fast_server.url, mode="rate", rate=100.0, arrival=arrival, requests=50, output=LengthDist(5))
    s = metrics.summarize(run.records)
    assert s["completed"] == 50
    sends = sorted(r.send for r in run.records)
    offered = (len(sends) - 1) / (sends[-1] - sends[0])
    assert offered == pytest.approx(100.0, rel=0.4 if arrival == "poisson" else 0.2)


def test_rate_capped_by_max_in_flight_reports_late_sends(fast_server):
    run = _run(fast_server.url, mode="rate", rate=500.0, max_in_flight=2, requests=30, output=LengthDist(20))
    s = metrics.summarize(run.records)
    assert s["completed"] == 30 and s["peak_concurrency"] <= 2
    assert s["late_sends"] > 10 and s["send_lag_s"]["max"] > 0.05


def test_length_distributions_are_sampled_and_sent(fast_server):
    run = _run(fast_server.url, requests=30, input=LengthDist(20, 5.0), output=LengthDist(12, 4.0))
    outs = {r.max_tokens for r in run.records}
    assert len(outs) > 3
    for r in run.records:
        assert r.usage_completion == r.max_tokens == len(r.chunks)
        assert r.usage_prompt == r.input_len


def test_sweep_runs_sync_then_throughput_then_rates(fast_server):
    spec = LoadSpec(requests=12, duration_s=10, input=LengthDist(8), output=LengthDist(5))
    run = asyncio.run(run_sweep(ClientConfig(fast_server.url, model="m"), spec, max_concurrency=8, rates=2))
    labels = [s["label"] for s in run.steps]
    assert labels[:2] == ["synchronous", "throughput"] and len(labels) == 4
    sync, thr = run.steps[0]["summary"]["requests_per_s"], run.steps[1]["summary"]["requests_per_s"]
    assert thr > sync
    assert sync < run.steps[2]["rate"] < run.steps[3]["rate"] < thr


def test_slo_search_finds_a_rate_between_the_brackets():
    # TTFT 20 ms, 10 tokens at 5 ms: one request at a time meets an e2e SLO of 0.2 s
    with ServerProcess(ttft=0.02, itl=0.005) as srv:
        spec = LoadSpec(requests=10, duration_s=10, input=LengthDist(8), output=LengthDist(10))
        run, res = asyncio.run(run_slo_search(ClientConfig(srv.url, model="m"), spec, {"e2e_s": 0.2}, max_concurrency=16, iterations=2))
    assert res["best"] is not None and res["best"]["requests_per_s"] > 0
    assert res["tried"][0]["meets"] is True


# ------------------------------------------------------------------------------------ metrics by formula
def _rec(send, chunks, usage=None, error=None, end=None, phase="measured", prompt=10):
    return {"send": send, "chunks": chunks, "usage_completion": usage, "usage_prompt": prompt, "error": error,
            "end": end if end is not None else (chunks[-1] + 0.001 if chunks else 0.01), "phase": phase}


def test_metric_formulas_on_hand_built_records():
    a = _rec(0.0, [0.2, 0.3, 0.4, 0.5], usage=4)  # TTFT .2, TPOT (.5-.2)/3 = .1
    b = _rec(0.1, [0.4, 0.6], usage=None)  # tokens from chunks: 2; TPOT .2
    c = _rec(0.2, [0.1], usage=8)  # usage says 8 tokens in one chunk: TPOT = 0 (.1-.1)/7
    w = _rec(0.0, [5.0, 6.0], usage=2, phase="warmup")
    e = _rec(0.3, [], error="http_500", end=0.05)
    s = metrics.summarize([a, b, c, w, e], slo={"ttft_s": 0.25})
    assert s["completed"] == 3 and s["errors"] == 1 and s["error_kinds"] == {"http_500": 1}
    assert s["ttft_s"]["mean"] == pytest.approx((0.2 + 0.4 + 0.1) / 3)
    assert s["tpot_s"]["mean"] == pytest.approx((0.1 + 0.2 + 0.0) / 3)
    assert s["itl_s"]["n"] == 4 and s["itl_s"]["mean"] == pytest.approx((0.1 * 3 + 0.2) / 4)
    assert s["output_tokens"] == 4 + 2 + 8
    duration = max(0.0 + 0.501, 0.1 + 0.601, 0.2 + 0.101, 0.3 + 0.05) - 0.0
    assert s["duration_s"] == pytest.approx(duration)
    assert s["requests_per_s"] == pytest.approx(3 / duration)
    assert s["output_tokens_per_s"] == pytest.approx(14 / duration)
    assert s["total_tokens_per_s"] == pytest.approx((14 + 30) / duration)
    assert s["goodput"] == pytest.approx(2 / duration)  # b misses the TTFT SLO, e failed
    g = s["compat"]["guidellm"]
    assert g["time_per_output_token_ms"]["mean"] == pytest.approx(1000 * (0.501 / 4 + 0.601 / 2 + 0.101 / 8) / 3)
    assert s["compat"]["vllm"]["itl_ms"]["mean"] == pytest.approx(1000 * s["itl_s"]["mean"])


def test_stats_percentiles():
    st = metrics.stats(range(1, 101))
    assert st["mean"] == 50.5 and st["p50"] == 50.5 and st["p99"] == pytest.approx(99.01) and st["n"] == 100
    assert metrics.stats([])["mean"] is None


# ------------------------------------------------------------------------------------ input checking
@pytest.mark.parametrize("url,base", [
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000"),
    ("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000"),
    ("127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("https://h.example/prefix/v1", "https://h.example/prefix"),
])
def test_base_url_with_or_without_v1(url, base):
    assert normalize_base_url(url) == base


@pytest.mark.parametrize("args", [
    ["bench", "ftp://x"],
    ["bench", "http://127.0.0.1:1", "--concurrency", "2", "--rate", "3"],
    ["bench", "http://127.0.0.1:1", "--concurrency", "0"],
    ["bench", "http://127.0.0.1:1", "--requests", "0"],
    ["bench", "http://127.0.0.1:1", "--api", "embeddings"],
    ["bench", "http://127.0.0.1:1", "--export", "out.xlsx"],
    ["bench", "http://127.0.0.1:1", "--slo-search"],
    ["bench", "http://127.0.0.1:1", "--duration", "0"],
    ["calibrate", "no-such-run.json"],
    ["calibrate", "not-an-id"],
])
def test_bad_input_exits_2(args, capsys):
    assert main(args) == 2
    assert "error:" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ CLI, store, export
def test_cli_json_store_and_exports(timed_server, tmp_path, monkeypatch, capsys):
    db = tmp_path / "ds.db"
    monkeypatch.setenv("DEPLOYSCOPE_DATABASE_URL", f"sqlite:///{db}")
    out_json, out_csv = tmp_path / "run.json", tmp_path / "run.csv"
    args = ["bench", timed_server.url + "/v1", "--model", "m", "--concurrency", "4", "--requests", "8", "--warmup", "2",
            "--input-len", "16", "--output-len", "10", "--gpu", "h100", "--engine", "vllm", "--save", "--json"]
    assert main(args + ["--export", str(out_json)]) == 0
    s = json.loads(capsys.readouterr().out)
    for k in ("ttft_s", "itl_s", "tpot_s", "e2e_s"):
        assert set(s[k]) >= {"mean", "p50", "p90", "p99"}
    assert s["completed"] == 8 and s["errors"] == 0 and s["error_kinds"] == {}
    assert isinstance(s["completed"], int) and isinstance(s["errors"], int)
    for k in ("output_tokens_per_s", "requests_per_s", "goodput"):
        assert s[k] > 0
    assert s["target"]["gpu"] == "h100" and s["target"]["engine"] == "vllm" and s["model"] == "m"

    from deployscope.store import Store

    st = Store(f"sqlite:///{db}")
    saved = st.get_bench_run(s["run_id"])
    assert saved.summary["completed"] == 8 and len(saved.records) == 10  # raw records, warm-up included
    assert {r["phase"] for r in saved.records} == {"warmup", "measured"}
    assert all(len(r["chunks"]) == 10 for r in saved.records)

    exported = json.loads(out_json.read_text())
    assert exported["summary"]["completed"] == 8 and len(exported["records"]) == 10

    assert main(args[:-2] + ["--json", "--export", str(out_csv)]) == 0
    capsys.readouterr()
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 10 and float(rows[0]["ttft_s"]) > 0.19 and rows[0]["token_source"] == "usage"


def test_cli_human_output(fast_server, capsys):
    assert main(["bench", fast_server.url, "--requests", "4", "--output-len", "4", "--input-len", "4"]) == 0
    out = capsys.readouterr().out
    assert "TTFT" in out and "TPOT" in out and "goodput" in out


# ------------------------------------------------------------------------------------ SSE parsing
def _parse(events, split=None):
    from deployscope.bench.records import RequestRecord, RequestSpec
    from deployscope.bench.sse import StreamState

    rec = RequestRecord.for_spec(RequestSpec(0, "p", 1, 1))
    st = StreamState(rec, 0.0, False)
    raw = b"".join(b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n\n" for e in events)
    parts = [raw] if split is None else [raw[i : i + split] for i in range(0, len(raw), split)]
    for k, part in enumerate(parts):
        st.feed(part, float(k + 1))
    st.finish(float(len(parts) + 1))
    return rec


def test_sse_parser_counts_only_generated_text():
    events = [
        {"choices": [{"delta": {"role": "assistant", "content": ""}}]},  # role chunk: not a token
        {"choices": [{"delta": {"content": 'say "hi"'}}], "usage": None},
        {"choices": [{"delta": {"content": None, "tool_calls": [{"function": {"arguments": '{"content": "x"}'}}]}}]},
        {"choices": [{"delta": {"reasoning_content": "think"}}]},
        {"choices": [{"delta": {}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}},
        b"[DONE]",
    ]
    for split in (None, 7, 1):  # events cut at any byte boundary by the network
        rec = _parse(events, split)
        assert len(rec.chunks) == 2 and rec.finish == "stop" and rec.done
        assert rec.usage_prompt == 7 and rec.usage_completion == 2 and rec.error is None


def test_sse_stream_without_done_or_finish_is_truncated():
    rec = _parse([{"choices": [{"text": "a"}]}])
    assert rec.error == "truncated" and len(rec.chunks) == 1
    assert _parse([{"choices": [{"text": "a", "finish_reason": "length"}]}]).error is None  # no [DONE] needed


def test_sse_error_event_is_a_protocol_error():
    assert _parse([{"error": {"message": "overloaded"}}, b"[DONE]"]).error == "protocol"


@pytest.mark.parametrize("framing,close", [("chunked", True), ("close", False)])
def test_connection_close_and_close_delimited_bodies(framing, close):
    with ServerProcess(ttft=0.01, itl=0.002, framing=framing, close=close, faults="ok,ok,ok,truncate") as srv:
        run = _run(srv.url, concurrency=2, requests=8, output=LengthDist(6))
    s = metrics.summarize(run.records)
    assert s["completed"] == 6 and s["error_kinds"] == {"truncated": 2}
    assert all(len(r.chunks) == 6 for r in run.records if r.error is None)


# ------------------------------------------------------------------------------------ malformed replies
def test_sse_event_with_a_string_choice_is_a_protocol_error_not_an_exception():
    rec = _parse([{"choices": [{"delta": {"content": "a"}}]}, {"choices": ["x"]}, {"choices": [{"delta": {"content": "b"}}]}, b"[DONE]"])
    assert rec.error == "protocol" and "choice is not an object" in rec.error_detail
    assert len(rec.chunks) == 1  # nothing read after the bad event
    for bad in (b"{not json", b'"a string"', b'{"choices": {"a": 1}}', b'{"choices": [{"delta": "x"}]}',
                b'{"usage": {"completion_tokens": "many"}, "choices": []}'):
        assert _parse([bad, b"[DONE]"]).error == "protocol", bad


@pytest.mark.parametrize("transport", ["raw", "httpx"])
def test_malformed_event_fails_that_request_only(transport, capfd):
    with ServerProcess(ttft=0.002, itl=0.001, faults="ok,malformed,ok,ok") as srv:
        run = _run(srv.url, transport=transport, concurrency=2, requests=8, output=LengthDist(6))
    s = metrics.summarize(run.records)
    assert s["completed"] == 6 and s["error_kinds"] == {"protocol": 2}
    assert all(len(r.chunks) == 6 for r in run.records if r.error is None)
    bad = [r for r in run.records if r.error == "protocol"]
    assert all(len(r.chunks) == 3 and "malformed event" in r.error_detail for r in bad)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Fatal error" not in err  # no stray asyncio tracebacks


def test_cli_exports_completed_records_when_one_event_is_malformed(tmp_path, capsys):
    out = tmp_path / "run.json"
    with ServerProcess(ttft=0.002, itl=0.001, faults="malformed,ok") as srv:
        rc = main(["bench", srv.url, "--transport", "httpx", "-n", "6", "-c", "2", "--output-len", "4",
                   "--input-len", "4", "--json", "--export", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    assert data["summary"]["completed"] == 3 and data["summary"]["error_kinds"] == {"protocol": 3}
    assert len(data["records"]) == 6


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_every_request_failing_exits_1_and_saves_nothing(tmp_path, capsys):
    from deployscope.store import Store

    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    args = ["bench", url, "--model", "m", "-n", "3", "-c", "1", "--save"]
    assert main(args + ["--json"]) == 1
    cap = capsys.readouterr()
    s = json.loads(cap.out)
    assert s["status"] == "failed" and s["completed"] == 0 and s["error_kinds"] == {"connect": 3}
    assert "run_id" not in s and "every request" in cap.err and "connect 3" in cap.err
    assert Store().list_bench_runs() == []
    assert main(args) == 1  # the terminal view exits the same way
    assert "errors: connect 3" in capsys.readouterr().out
    assert main(args + ["--save-failed", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["run_id"] is not None
    assert len(Store().list_bench_runs()) == 1
