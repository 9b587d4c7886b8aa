"""Backfills on a Dask cluster through Beam's own DaskRunner: same output as the local runner."""

from __future__ import annotations

import pytest

from pipelines import options, pipeline
from pipelines.errors import OptionError
from tests.conftest import ARTICLES, read_avro_folder

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


def comparable(folder) -> list[tuple]:
    """The records, order aside, without what differs by design: the processing time, and
    the story links, which follow the order articles reach the story stage (on Dask, the
    workers' order)."""
    rows = []
    for record in read_avro_folder(folder / "articles"):
        fields = ("article_id", "title", "text", "sentences", "entities")
        claims = [{k: v for k, v in c.items() if k != "link"} for c in record["claims"]]
        rows.append((record["source"]["path"], *(repr(record[f]) for f in fields), repr(claims)))
    for letter in read_avro_folder(folder / "dead_letters"):
        rows.append((letter["source"]["path"], letter["stage"], letter["error_type"]))
    return sorted(rows, key=repr)


def test_backfill_on_dask_matches_the_local_run(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    bodies = [p.read_bytes() for p in sorted(ARTICLES.glob("*.txt"))]
    for i in range(36):
        extra = f"\n\nUpdate {i}: {i * 7} people were counted on day {i}.".encode()
        (inputs / f"{i:03d}_{i:016x}.txt").write_bytes(bodies[i % len(bodies)] + extra)
    (inputs / "empty.txt").write_bytes(b"")
    pattern = str(inputs / "*.txt")

    local = pipeline.run(["--input", pattern, "--output", str(tmp_path / "local")])

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client, distributed.get_task_stream(client) as tasks:
            on_dask = pipeline.run([
                "--input", pattern, "--output", str(tmp_path / "dask"),
                "--dask-address", cluster.scheduler_address, "--dask-partitions", "4",
            ])  # fmt: skip
    workers = {task["worker"] for task in tasks.data}
    assert len(workers) == 2, f"tasks ran on {workers}"
    assert (on_dask.articles, on_dask.dead_letters) == (local.articles, local.dead_letters) == (36, 1)
    assert on_dask.claims == local.claims
    assert comparable(tmp_path / "dask") == comparable(tmp_path / "local")
    # Every article got a story from the index the workers share (SQLite in the output folder).
    stories = [a["story"] for a in read_avro_folder(tmp_path / "dask" / "articles")]
    assert all(s and s["version"] >= 1 for s in stories)
    # 36 updates of 4 stories: linked across workers into a few stories, not 36.
    assert len({s["story_id"] for s in stories}) <= 8, stories


def test_dask_address_needs_files():
    with pytest.raises(OptionError, match="--dask-address"):
        options.parse(["--bootstrap-servers", "b:1", "--topic", "t", "--output", "o",
                                   "--dask-address", "tcp://127.0.0.1:1"])  # fmt: skip
