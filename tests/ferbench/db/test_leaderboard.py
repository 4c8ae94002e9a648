"""Leaderboard ranking: direction per metric, filters, best_per_model and seed aggregation."""

from __future__ import annotations

import statistics

import pytest
from sqlalchemy.orm import Session

from ferbench.db import experiments, leaderboard, lifecycle


def run(session: Session, *, model: str = "cnn-small", dataset: str = "synthetic", seed: int = 0, lr: float = 1e-3,
        accuracy: float, inference_ms: float = 1.0, split: str = "split-a", family: str = "cnn",
        roc_auc: float | None = None, protocol: str = "holdout", recipe: str | None = None) -> str:
    spec = {"model": model, "dataset": dataset, "epochs": 1, "learning_rate": lr, "seed": seed}
    if recipe is not None:
        spec["recipe"] = recipe
    (row,) = experiments.create_experiments(session, [spec], enqueue=lambda _id: None, families={model: family}).experiments
    lifecycle.claim_experiment(session, row.id)
    lifecycle.finish_experiment(session, row.id, lifecycle.ResultRecord(
        metrics={"accuracy": accuracy, "inference_ms": inference_ms, "roc_auc_macro": roc_auc},
        split_fingerprint=split, mlflow_run_id=f"run-{row.id[:8]}", per_class={}, protocol=protocol))
    return row.id


def test_accuracy_ranks_descending_and_latency_ascending(session: Session) -> None:
    run(session, model="cnn-small", accuracy=0.5, inference_ms=1.0)
    run(session, model="vgg19", accuracy=0.9, inference_ms=9.0, family="vgg")
    run(session, model="resnet50", accuracy=0.7, inference_ms=5.0, family="resnet")
    by_acc = leaderboard.leaderboard(session, metric="accuracy", dataset="synthetic")
    assert [e.model for e in by_acc] == ["vgg19", "resnet50", "cnn-small"]
    assert [e.rank for e in by_acc] == [1, 2, 3]
    by_latency = leaderboard.leaderboard(session, metric="inference_ms", dataset="synthetic")
    assert [e.model for e in by_latency] == ["cnn-small", "resnet50", "vgg19"]
    assert by_acc[0].mlflow_run_id.startswith("run-") and by_acc[0].experiment_id in by_acc[0].experiment_ids
    assert leaderboard.leaderboard(session, metric="accuracy", limit=2)[-1].model == "resnet50"


def test_filters_by_dataset_model_family_and_split(session: Session) -> None:
    run(session, model="cnn-small", accuracy=0.5)
    run(session, model="vgg19", accuracy=0.6, family="vgg")
    run(session, model="vgg19", dataset="fer2013", accuracy=0.8, family="vgg")
    run(session, model="vgg19", accuracy=0.95, family="vgg", split="split-b", lr=0.01)
    assert {e.dataset for e in leaderboard.leaderboard(session, dataset="fer2013")} == {"fer2013"}
    assert {e.model for e in leaderboard.leaderboard(session, model="cnn-small")} == {"cnn-small"}
    assert {e.family for e in leaderboard.leaderboard(session, family="vgg")} == {"vgg"}
    only_b = leaderboard.leaderboard(session, split_fingerprint="split-b")
    assert [e.mean for e in only_b] == [0.95]
    with pytest.raises(ValueError, match="accepted"):
        leaderboard.leaderboard(session, metric="loss")


def test_seeds_of_one_spec_are_aggregated_and_best_per_model_keeps_one(session: Session) -> None:
    seeds = [0.60, 0.64, 0.71]
    ids = [run(session, model="vgg19", seed=s, accuracy=a, family="vgg") for s, a in enumerate(seeds)]
    run(session, model="vgg19", lr=0.1, accuracy=0.62, family="vgg")  # another spec of the same model
    run(session, model="cnn-small", accuracy=0.3)
    board = leaderboard.leaderboard(session, dataset="synthetic")
    top = board[0]
    assert top.n_seeds == 3 and top.experiment_ids == ids and top.seeds == [0, 1, 2]
    assert top.mlflow_run_ids == [f"run-{i[:8]}" for i in ids] and top.mlflow_run_id == f"run-{ids[2][:8]}"
    assert top.spec == {"model": "vgg19", "dataset": "synthetic", "epochs": 1, "learning_rate": 1e-3}
    assert top.mean == pytest.approx(statistics.mean(seeds))
    assert top.std == pytest.approx(statistics.stdev(seeds))
    assert top.experiment_id == ids[2]  # the best seed's run is the one linked
    assert [(e.model, e.n_seeds) for e in board] == [("vgg19", 3), ("vgg19", 1), ("cnn-small", 1)]
    assert board[1].std is None
    best = leaderboard.leaderboard(session, dataset="synthetic", best_per_model=True)
    assert [(e.model, e.n_seeds) for e in best] == [("vgg19", 3), ("cnn-small", 1)]


def test_seeds_without_the_ranking_metric_are_left_out_of_that_ranking(session: Session) -> None:
    with_auc = run(session, seed=0, accuracy=0.5, roc_auc=0.8)
    without_auc = run(session, seed=1, accuracy=0.7)  # e.g. AUC undefined: a class missing from its test split
    (by_auc,) = leaderboard.leaderboard(session, metric="roc_auc_macro")
    assert by_auc.experiment_ids == [with_auc] and by_auc.mean == 0.8
    assert by_auc.metrics["accuracy"] == 0.5  # every metric over the same seeds as the ranking
    (by_accuracy,) = leaderboard.leaderboard(session, metric="accuracy")
    assert by_accuracy.experiment_ids == [with_auc, without_auc] and by_accuracy.mean == pytest.approx(0.6)
    assert by_accuracy.metrics["roc_auc_macro"] == 0.8


def test_the_board_is_one_select_with_no_join(session: Session) -> None:
    """GET /leaderboard's ranking is one round trip: everything it shows lives on the group rows, and the
    significance marks add one primary-key lookup of the rows' stored predictions."""
    from sqlalchemy import event

    for seed in range(3):
        run(session, seed=seed, accuracy=0.5 + seed / 10)
    run(session, model="vgg19", accuracy=0.9, family="vgg")
    statements: list[str] = []
    engine = session.get_bind()
    record = lambda _conn, _cursor, statement, *_args: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", record)
    try:
        for best_per_model in (False, True):
            assert len(leaderboard.leaderboard(session, dataset="synthetic", best_per_model=best_per_model)) == 2
    finally:
        event.remove(engine, "before_cursor_execute", record)
    ranking = [s for s in statements if "FROM predictions" not in s]
    assert len(ranking) == 2 and len(statements) <= 4, statements
    assert all(" JOIN results" not in s and " experiments" not in s for s in statements), statements


def test_one_spec_on_two_splits_is_never_averaged_together(session: Session) -> None:
    run(session, accuracy=0.4, split="split-a")
    run(session, accuracy=0.8, split="split-b", seed=1)
    board = leaderboard.leaderboard(session)
    assert sorted((e.split_fingerprint, e.n_seeds, e.mean) for e in board) == [("split-a", 1, 0.4), ("split-b", 1, 0.8)]


def test_concurrent_finishes_of_one_spec_all_count_in_its_mean(session: Session, session_factory) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    specs = [{"model": "vgg19", "dataset": "synthetic", "epochs": 1, "seed": s} for s in range(8)]
    rows = experiments.create_experiments(session, specs, enqueue=lambda _id: None).experiments
    for row in rows:
        lifecycle.claim_experiment(session, row.id)

    def finish(i: int) -> bool:
        s = session_factory()
        try:
            return lifecycle.finish_experiment(
                s, rows[i].id, lifecycle.ResultRecord(metrics={"accuracy": i / 10}, split_fingerprint="fp"))
        finally:
            s.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(finish, range(8)))
    (entry,) = leaderboard.leaderboard(session, dataset="synthetic")
    assert entry.n_seeds == 8 and entry.mean == pytest.approx(sum(i / 10 for i in range(8)) / 8)


def test_rebuilding_the_groups_from_results_gives_the_same_board(session: Session) -> None:
    for seed, acc in enumerate([0.2, 0.4, 0.9]):
        run(session, seed=seed, accuracy=acc)
    run(session, model="vgg19", accuracy=0.5, family="vgg")
    before = leaderboard.leaderboard(session)
    assert leaderboard.rebuild_result_groups(session) == 2
    after = leaderboard.leaderboard(session)
    assert [(e.spec_key, e.experiment_ids, e.mlflow_run_ids, e.spec, e.metrics) for e in after] == \
        [(e.spec_key, e.experiment_ids, e.mlflow_run_ids, e.spec, e.metrics) for e in before]
    assert [e.mean for e in after] == pytest.approx([e.mean for e in before], abs=1e-12)


def test_a_group_out_of_step_with_its_means_is_left_out_not_an_error(session: Session) -> None:
    from sqlalchemy import text

    run(session, model="vgg19", accuracy=0.9, family="vgg")
    kept = run(session, accuracy=0.5)
    session.execute(text("UPDATE result_groups SET members = '[]' WHERE model = 'vgg19'"))  # e.g. a hand edit
    session.commit()
    board = leaderboard.leaderboard(session)
    assert [(e.rank, e.experiment_id) for e in board] == [(1, kept)]


def test_results_and_groups_carry_the_protocol_and_the_specs_recipe(session: Session) -> None:
    from ferbench.db.models import Result, ResultGroup

    official = run(session, accuracy=0.7, dataset="fer2013", split="official-split", protocol="official",
                   recipe="paper-vgg")
    run(session, accuracy=0.6, dataset="fer2013", split="official-split", protocol="official", recipe="paper-vgg",
        seed=1)
    run(session, accuracy=0.9, dataset="fer2013", split="holdout-split")
    assert session.query(Result).filter_by(experiment_id=official).one().protocol == "official"
    groups = {g.split_fingerprint: (g.protocol, g.recipe, g.n) for g in session.query(ResultGroup)}
    assert groups == {"official-split": ("official", "paper-vgg", 2), "holdout-split": ("holdout", None, 1)}
    leaderboard.rebuild_result_groups(session)
    assert {g.split_fingerprint: (g.protocol, g.recipe, g.n) for g in session.query(ResultGroup)} == groups
    with pytest.raises(ValueError, match="accepted: official, holdout"):
        lifecycle.ResultRecord(metrics={}, split_fingerprint="fp", protocol="80/10/10")


def test_a_ranking_is_of_one_protocol_official_first_when_there_are_official_results(session: Session) -> None:
    run(session, model="vgg19", accuracy=0.9, family="vgg")  # holdout, synthetic
    run(session, model="vgg19", dataset="fer2013", accuracy=0.95, family="vgg", split="h")  # holdout: carved
    run(session, model="cnn-small", dataset="fer2013", accuracy=0.6, split="o", protocol="official", recipe="r1")
    run(session, model="vgg19", dataset="fer2013", accuracy=0.7, family="vgg", split="o", protocol="official")
    default = leaderboard.leaderboard(session, dataset="fer2013")
    assert [(e.rank, e.model, e.protocol) for e in default] == [(1, "vgg19", "official"), (2, "cnn-small", "official")]
    assert default[1].recipe == "r1" and default[0].recipe is None
    holdout = leaderboard.leaderboard(session, dataset="fer2013", protocol="holdout")
    assert [(e.rank, e.mean, e.protocol) for e in holdout] == [(1, 0.95, "holdout")]
    # synthetic has no official results: its default ranking is the holdout one.
    assert [e.protocol for e in leaderboard.leaderboard(session, dataset="synthetic")] == ["holdout"]
    assert [e.protocol for e in leaderboard.leaderboard(session, dataset="synthetic", protocol="official")] == []
    # Over every dataset the official results exist, so only they are ranked.
    assert {e.protocol for e in leaderboard.leaderboard(session)} == {"official"}
    assert [e.model for e in leaderboard.leaderboard(session, recipe="r1")] == ["cnn-small"]
    assert [e.model for e in leaderboard.leaderboard(session, recipe="r1", best_per_model=True)] == ["cnn-small"]
    with pytest.raises(ValueError, match="accepted: official, holdout"):
        leaderboard.leaderboard(session, protocol="80/10/10")
