"""The check-worthiness model: exact features, held-out quality, reproducible training."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from pipelines import evaluation, nlp
from pipelines.claims import checkworthiness, train
from pipelines.parse import parse_article
from pipelines.records import Message, to_avro

CLAIMBUSTER = Path(__file__).resolve().parents[2] / "shared" / "data" / "claimbuster" / "train.json"
needs_data = pytest.mark.skipif(not CLAIMBUSTER.is_file(), reason=f"{CLAIMBUSTER} is not there")

SENTENCES = [
    "Unemployment fell to 4.1% in 2019, the lowest level in 50 years.",
    "I think we can do better   than this!",
    "  Taxes\\ton the  top 1 percent rose by $ 3,000 . ",
    "A",
    "",
]


@pytest.mark.parametrize("sentence", SENTENCES)
def test_features_are_scikit_learns(sentence):
    words = TfidfVectorizer(preprocessor=checkworthiness.word_text, token_pattern=r"\S+", lowercase=False,
                            ngram_range=(1, 2)).build_analyzer()  # fmt: skip
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    assert checkworthiness.word_ngrams(checkworthiness.word_text(sentence), 1, 2) == words(sentence)
    assert checkworthiness.char_wb_ngrams(sentence, 2, 5) == chars(sentence)


def test_shipped_model_scores_in_zero_to_one():
    model = checkworthiness.load_model()
    scores = model.scores(SENTENCES)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[0] > model.threshold > scores[1]  # a checkable figure; an opinion
    assert model.info["held_out_scores"]["f1"] >= 0.75


@needs_data
def test_held_out_f1_floor():
    """The shipped model on the 15% it never saw (the split is recomputed here)."""
    scores = evaluation.checkworthiness_scores(CLAIMBUSTER)
    assert scores.pop("sentences") == 1196
    assert scores == checkworthiness.load_model().info["held_out_scores"]
    assert scores["f1"] >= 0.75


@needs_data
def test_training_is_reproducible(tmp_path):
    info = train.train(CLAIMBUSTER, tmp_path / "model.json.gz")
    shipped = checkworthiness.load_model().info
    for key in ("C", "threshold", "held_out_scores", "features", "train", "held_out"):
        assert info[key] == shipped[key], key
    assert info["max_difference_from_sklearn"] < 1e-3


def test_score_sentences_gives_the_pipelines_scores(spacy_nlp):
    article = parse_article(Message(payload=b"Budget Row\n\nThe deficit rose to 4% of GDP in 2024, the "
                                    b"treasury said. Critics called it reckless. Spending on health "
                                    b"grew by 12 billion euros."))  # fmt: skip
    claims = to_avro(nlp.annotate(article, spacy_nlp(article.text), "test"))["claims"]
    assert claims
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "score-sentences"],
        input="\n".join(c["text"] for c in claims) + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t", 1) for line in result.stdout.splitlines()]
    assert [(float(score), text) for score, text in lines] == [(c["score"], c["text"]) for c in claims]
