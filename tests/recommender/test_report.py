"""Run reports: files written, JSON with per-seed values and mean/std, no half-written runs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from recommender.evaluation import splits as S
from recommender.evaluation.evaluator import EvaluationResult, evaluate_ctr, evaluate_topk
from recommender.evaluation.report import make_run_id, summarise, write_report
from tests.helpers.recommender_data import MostPopular, SeededRandom, synthetic_dataset

CONFIG = {"dataset": "synthetic", "ks": [5, 10], "seeds": [0, 1], "models": ["most-popular", "random"]}


@pytest.fixture(scope="module")
def results():
    dataset = synthetic_dataset(n_users=40)
    out = []
    for seed in (0, 1):
        base = S.protocol_t_split(dataset, seed=seed)
        ctr = S.protocol_c_split(dataset, seed=seed)
        for split in [base, *S.sparsity_splits(base, fractions=(0.2, 1.0)), S.cold_start_split(dataset, seed=seed)]:
            for model in (MostPopular(), SeededRandom()):
                out.append(evaluate_topk(model.fit(split.train_binary(), seed=seed), split, ks=(5, 10)))
        for model in (MostPopular(), SeededRandom()):
            out.append(evaluate_ctr(model.fit(ctr.train_binary(), seed=seed), ctr))
    return out


def test_report_writes_json_markdown_and_plots(results, tmp_path):
    run_dir = write_report(results, config=CONFIG, reports_dir=tmp_path)
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", run_dir.name)
    names = {p.name for p in run_dir.iterdir()}
    assert {
        "metrics.json",
        "results.md",
        "recall_at_k.png",
        "ndcg_at_k.png",
        "sparsity.png",
        "bars_T.png",
        "bars_C.png",
        "bars_cold_start.png",
    } <= names
    for png in run_dir.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == [run_dir.name]  # no staging directory left behind

    document = json.loads((run_dir / "metrics.json").read_text())
    assert document["config"] == CONFIG and document["run_id"] == run_dir.name
    assert len(document["results"]) == len(results)
    entry = document["summary"]["T"]["random"]
    assert entry["seeds"] == [0, 1] and entry["n_seeds"] == 2
    per_seed = [entry["per_seed"][s]["recall@10"] for s in ("0", "1")]
    assert entry["mean"]["recall@10"] == pytest.approx(sum(per_seed) / 2)
    assert entry["std"]["recall@10"] == pytest.approx(abs(per_seed[0] - per_seed[1]) / 2**0.5)  # sample std, n = 2
    assert set(document["summary"]) == {"T", "sparsity@0.2", "sparsity@1", "cold_start", "C"}
    assert set(document["summary"]["C"]["most-popular"]["mean"]) == {"auc", "f1@0.5"}

    markdown = (run_dir / "results.md").read_text()
    assert "## T" in markdown and "## C" in markdown and "### K = 10" in markdown
    mean, std = entry["mean"]["ndcg@10"], entry["std"]["ndcg@10"]
    assert "| random | " in markdown and f"{mean:.4f} ± {std:.4f}" in markdown


def test_single_seed_has_no_std(results, tmp_path):
    one_seed = [r for r in results if r.seed == 0]
    summary = summarise(one_seed)
    assert summary["T"]["random"]["std"]["recall@5"] is None
    run_dir = write_report(one_seed, config=CONFIG, reports_dir=tmp_path, run_id="single", plots=False)
    assert json.loads((run_dir / "metrics.json").read_text())["summary"]["T"]["random"]["std"]["recall@5"] is None
    table_rows = [line for line in (run_dir / "results.md").read_text().splitlines() if line.startswith("| random")]
    assert table_rows and not any("±" in line for line in table_rows)


def test_run_id_is_time_plus_config_hash():
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    a = make_run_id({"b": 1, "a": [1, 2]}, now=when)
    assert a.startswith("20250102T030405Z-")
    assert a == make_run_id({"a": [1, 2], "b": 1}, now=when)  # key order does not matter
    assert a != make_run_id({"a": [1, 2], "b": 2}, now=when)


def test_reports_are_never_overwritten_and_bad_input_writes_nothing(results, tmp_path):
    write_report(results, config=CONFIG, reports_dir=tmp_path, run_id="fixed", plots=False)
    before = (tmp_path / "fixed" / "metrics.json").read_bytes()
    with pytest.raises(FileExistsError, match="never overwritten"):
        write_report(results, config=CONFIG, reports_dir=tmp_path, run_id="fixed", plots=False)
    assert (tmp_path / "fixed" / "metrics.json").read_bytes() == before
    with pytest.raises(ValueError, match="JSON-serialisable"):
        write_report(results, config={"when": datetime.now()}, reports_dir=tmp_path)
    with pytest.raises(ValueError, match="two results"):
        write_report(results + results[:1], config=CONFIG, reports_dir=tmp_path)
    with pytest.raises(ValueError, match="headline_k=20 was not evaluated"):
        write_report(results, config=CONFIG, reports_dir=tmp_path, headline_k=20)
    with pytest.raises(ValueError, match="no results"):
        write_report([], config=CONFIG, reports_dir=tmp_path)
    with pytest.raises(ValueError, match="run_id"):
        write_report(results, config=CONFIG, reports_dir=tmp_path, run_id="../escape")
    assert [p.name for p in tmp_path.iterdir()] == ["fixed"]
    assert not list((tmp_path / "fixed").glob("*.png"))


def test_non_finite_metrics_become_null(tmp_path):
    result = EvaluationResult(
        model="m", split="T", protocol="T", seed=0, metrics={"recall@5": 0.5, "novelty@5": float("nan")}
    )
    run_dir = write_report([result], config={}, reports_dir=tmp_path, run_id="nan", plots=False)
    text = (run_dir / "metrics.json").read_text()
    assert "NaN" not in text and json.loads(text)["summary"]["T"]["m"]["mean"]["novelty@5"] is None
