"""What a distributed runner needs, checked without one: picklable DoFns, a portable graph.

Flink, Spark and Dataflow run the pipeline from its portable (runner API) form,
pickling every DoFn to ship it to workers. Clients (Kafka consumers, spaCy, worker
pools) must be made in setup(), never carried in the pickled DoFn.
"""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.internal import pickler

from pipelines import pipeline
from pipelines.options import parse
from tests.conftest import ARTICLES

UNPICKLABLE_STATE = ("_members", "_consumers", "_pool", "_nlp", "_scorer", "_producer", "_state")


def dofns(p: beam.Pipeline) -> list[beam.DoFn]:
    found = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            fn = getattr(node.transform, "fn", None)
            if isinstance(fn, beam.DoFn):
                found.append(fn)

    p.visit(Visitor())
    return found


@pytest.fixture(params=["kafka", "files"])
def built(request, broker, topic_name, tmp_path):
    if request.param == "kafka":
        from pipelines import kafka

        kafka.ensure_topic(broker.config, topic_name, 2)
        argv = ["--bootstrap-servers", broker.bootstrap_servers, "--topic", topic_name,
                "--output-topic", f"{topic_name}-out"]  # fmt: skip
    else:
        argv = ["--input", str(ARTICLES / "*.txt")]
    options = parse(
        # A local folder: resuming lists the output files, and no object-store client is installed here.
        [*argv, "--output", str(tmp_path), "--runner", "FlinkRunner"]
    )
    p = beam.Pipeline(options=options)
    pipeline.build(p, options, "portability", pipeline.read_messages(options, "portability"))
    return request.param, options, p


def test_every_dofn_pickles_without_live_clients(built):
    kind, _, p = built
    fns = dofns(p)
    names = {type(fn).__name__ for fn in fns}
    assert {"ParseArticlesFn", "AnnotateArticlesFn", "WriteFilesFn"} <= names
    if kind == "kafka":
        assert {"ReadTopicFn", "PublishOutputsFn"} <= names
    for fn in fns:
        assert not [a for a in UNPICKLABLE_STATE if a in vars(fn)], type(fn).__name__
        copy = pickler.loads(pickler.dumps(fn))
        assert type(copy) is type(fn)


def test_pipeline_converts_to_its_portable_form(built):
    kind, options, p = built
    proto = p.to_runner_api()
    transforms = [t.unique_name for t in proto.components.transforms.values()]
    for stage in ("ReadMessages", "ParseArticles", "ExtractEntitiesAndClaims", "WriteFiles"):
        assert any(name.startswith(stage) for name in transforms), stage
    # On a cluster runner: one NLP process per SDK worker, and a streaming job for Kafka.
    assert options.nlp_processes == 1
    assert options.view_as(beam.options.pipeline_options.StandardOptions).streaming == (kind == "kafka")
