"""The check-worthiness cascade: the transformer takes the sentences the linear score is unsure
of, scores a sentence the same alone or among others, and bad files or options are one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipelines import options
from pipelines.claims import checkworthiness, scorer, transformer
from pipelines.errors import InputError, OptionError
from pipelines.parse import parse_article
from pipelines.records import Message
from tests.conftest import ARTICLES, REPEATED_HEADLINE, annotated_by_fn

SENTENCES = [
    "They said the war would be over in weeks.",
    "Unemployment fell to 4.1% in 2019, the lowest level in 50 years.",
    "Thank you.",
    "This administration has failed.",
    "The plan would cut taxes for the middle class.",
    "Crime is going up in our cities, and nobody in Washington is doing anything about it.",
    "We will never forget.",
    "He has been wrong on every issue.",
]

SCHOOLS = b"""Schools Row

The minister said 40 schools would close by 2027, twice the number announced. Critics called \
it reckless. They said the war would be over in weeks. Teachers' pay rose by 3% last year, the \
union said, and class sizes grew for the fourth year running."""


def test_the_shipped_transformer_carries_its_settings():
    model = transformer.load_transformer()
    assert model.band == pytest.approx(0.2)
    a, _ = model.calibration
    assert a > 0  # a higher logit, a higher score
    assert model.info["made_by"] == "benchmarks/checkworthiness_cascade.py"
    high, low = model.scores([SENTENCES[1], SENTENCES[2]])
    assert high >= 0.5 > low


def test_a_sentence_scores_the_same_alone_and_among_others():
    model = transformer.load_transformer()
    alone = [model.scores([s])[0] for s in SENTENCES]
    assert model.scores(SENTENCES) == alone  # exactly: no batch changes a sentence's score
    assert model.scores(list(reversed(SENTENCES))) == list(reversed(alone))
    assert model.scores([]) == []


def test_a_sentence_seen_again_is_not_run_again():
    model = transformer.load_transformer()
    sentence = "The minister said 40 schools would close by 2027, twice the number announced."
    first = model.scores([sentence])
    runs = model._logit.cache_info().misses
    assert model.scores([sentence, sentence]) == first * 2
    assert model._logit.cache_info().misses == runs  # both from the cache


def test_the_transformer_takes_only_the_unsure_sentences():
    linear, cascade = scorer.load_scorer("linear"), scorer.load_scorer()
    network = transformer.load_transformer()
    before, after = linear.scores(SENTENCES), cascade.scores(SENTENCES)
    unsure = [abs(s - 0.5) < network.band for s in before]
    assert any(unsure) and not all(unsure)
    for sentence, first, final, is_unsure in zip(SENTENCES, before, after, unsure, strict=True):
        assert final == (network.scores([sentence])[0] if is_unsure else first)
    assert cascade.threshold == linear.threshold == 0.5
    assert before[0] >= 0.5 > after[0]  # the transformer overrules the linear score here


def test_the_pipeline_scores_with_the_scorer_asked_for():
    article = parse_article(Message(payload=SCHOOLS))

    def scores_with(kind: str) -> dict[str, float]:
        return {c.text: c.score for a in annotated_by_fn(article, checkworthiness=kind) for c in a.claims}

    for kind in scorer.KINDS:
        found = scores_with(kind)
        assert len(found) >= 3
        expected = scorer.load_scorer(kind).scores(list(found))
        assert list(found.values()) == [round(s, 4) for s in expected]
    assert scores_with("linear") != scores_with("cascade")


def test_score_sentences_takes_the_scorer_asked_for():
    lines = "\n".join(SENTENCES[:3]) + "\n"
    for kind in scorer.KINDS:
        result = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "score-sentences", "--checkworthiness", kind],
            input=lines, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        got = [float(line.split("\t")[0]) for line in result.stdout.splitlines()]
        assert got == [round(s, 4) for s in scorer.load_scorer(kind).scores(SENTENCES[:3])]


def test_a_bad_transformer_file_is_one_line(tmp_path):
    not_onnx = tmp_path / "model.onnx"
    not_onnx.write_bytes(b"not a network")
    with pytest.raises(InputError, match="not a check-worthiness transformer") as raised:
        transformer.load_transformer(str(not_onnx))
    assert str(not_onnx) in str(raised.value) and "\n" not in str(raised.value)
    # The shipped linear model is an ONNX file of no kind, and the tokenizer is no tokenizer.
    shipped, _ = transformer.default_paths()
    with pytest.raises(InputError, match="not a tokenizer file") as raised:
        transformer.load_transformer(str(shipped), str(checkworthiness.default_model_path()))
    assert "\n" not in str(raised.value)


def test_an_unknown_scorer_is_an_option_error_and_exit_2(tmp_path):
    argv = ["--input", str(ARTICLES / "*.txt"), "--output", "o", "--checkworthiness", "bert"]
    with pytest.raises(OptionError, match="--checkworthiness must be one of cascade, linear, not 'bert'"):
        options.parse(argv)
    assert options.parse(argv[:-2]).checkworthiness == "cascade"
    for command in (
        ["run", "--input", str(REPEATED_HEADLINE), "--output", str(tmp_path), "--checkworthiness", "bert"],
        ["score-sentences", "--checkworthiness", "bert"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", *command],
            input="Taxes rose.\n", capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
        assert "--checkworthiness must be one of cascade, linear, not 'bert'" in result.stderr
