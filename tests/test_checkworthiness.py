"""The check-worthiness model: exact features, calibration at 0.5, held-out quality,
reproducible training, the same score everywhere, and ``--min-checkworthiness``."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from pipelines import evaluation, nlp, options
from pipelines.claims import checkworthiness, train, transfer
from pipelines.errors import InputError, OptionError
from pipelines.nlp.annotate import keep_claims
from pipelines.parse import parse_article
from pipelines.records import ARTICLE, Message, from_avro, to_avro
from tests.conftest import ARTICLES, REPEATED_HEADLINE, annotated_by_fn, message_from

SHARED = Path(__file__).resolve().parents[2] / "shared"
CLAIMBUSTER = SHARED / "data" / "claimbuster" / "train.json"
#: The article folders of the shipped model's transfer set.
UNLABELED = [SHARED / "data" / "polnear" / "train" / "text", SHARED / "samples" / "bbc"]
needs_data = pytest.mark.skipif(not CLAIMBUSTER.is_file(), reason=f"{CLAIMBUSTER} is not there")
needs_folders = pytest.mark.skipif(
    not all(f.is_dir() for f in UNLABELED), reason=f"{' or '.join(map(str, UNLABELED))} is not there"
)

#: The goal of claimstream issue 16: F1 of the positive class on the held-out 15%, at 0.5.
GOAL_F1 = 0.83

SENTENCES = [
    "Unemployment fell to 4.1% in 2019, the lowest level in 50 years.",
    "I think we can do better   than this!",
    "  Taxes\\ton the  top 1 percent rose by $ 3,000 . ",
    "A",
    "",
]

BUDGET = b"""Budget Row

The deficit rose to 4% of GDP in 2024, the treasury said. Critics called it reckless. Spending on \
health grew by 12 billion euros. Exports fell by a third in 2023, the lowest level since 1990."""


@pytest.mark.parametrize("sentence", SENTENCES)
def test_features_are_scikit_learns(sentence):
    words = TfidfVectorizer(preprocessor=checkworthiness.word_text, token_pattern=r"\S+", lowercase=False,
                            ngram_range=(1, 2)).build_analyzer()  # fmt: skip
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    assert checkworthiness.word_ngrams(checkworthiness.word_text(sentence), 1, 2) == words(sentence)
    assert checkworthiness.char_wb_ngrams(sentence, 2, 5) == chars(sentence)


def test_shipped_model_is_calibrated_to_one_half():
    model = checkworthiness.load_model()
    scores = model.scores(SENTENCES)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert model.threshold == 0.5 and model.info["threshold"] == 0.5
    assert scores[0] >= 0.5 > scores[1]  # a checkable figure; an opinion
    # 0.5 is the threshold cross-validation found best: the out-of-fold F1 there is the CV F1
    # (up to the two threshold grids: over the raw logits, then over the calibrated scores).
    assert model.info["cv_scores_at_threshold"]["f1"] == pytest.approx(model.info["cv_f1"], abs=0.005)


def test_a_batch_scores_like_one_sentence_at_a_time():
    model = checkworthiness.load_model()
    alone = [model.score(s) for s in SENTENCES]
    assert model.scores(SENTENCES) == pytest.approx(alone, abs=1e-9)
    assert model.scores([]) == []


def test_a_bad_model_file_is_one_line(tmp_path):
    bad = {"not gzip.json.gz": b"{}", "old format.json.gz": gzip.compress(json.dumps({"format": 1}).encode())}
    for name, content in bad.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(InputError, match="not a check-worthiness model") as raised:
            checkworthiness.load_model(str(tmp_path / name))
        assert name in str(raised.value) and "\n" not in str(raised.value)
    old = str(tmp_path / "old format.json.gz")
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "score-sentences", "--model", old],
        input="Taxes rose.\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "format 1, not 2" in result.stderr


@needs_data
def test_held_out_scores_are_the_shipped_ones():
    """The shipped linear model on the 15% it never saw (the split is recomputed here), at 0.5."""
    scores = evaluation.checkworthiness_scores(CLAIMBUSTER, checkworthiness.load_model())
    assert scores.pop("sentences") == 1196
    assert scores == checkworthiness.load_model().info["held_out_scores"]
    assert scores["f1"] >= 0.815  # 0.8233; the model fitted to gold labels alone it replaced: 0.797


@needs_data
def test_held_out_f1_reaches_the_goal():
    """The pipeline's default score (the cascade: linear, the transformer where it is unsure)."""
    scores = evaluation.checkworthiness_scores(CLAIMBUSTER)
    assert scores["f1"] >= GOAL_F1, scores  # 0.8358: P 0.8289, R 0.8428


@needs_data
@needs_folders
def test_training_is_reproducible(tmp_path):
    info = train.train(CLAIMBUSTER, tmp_path / "model.json.gz", UNLABELED)
    shipped = checkworthiness.load_model().info
    keys = (
        "alpha",
        "C",
        "dense_scale",
        "transfer_set",
        "calibration",
        "cv_f1",
        "held_out_scores",
        "features",
    )
    for key in (*keys, "train", "baseline_word_tfidf_lr"):
        assert info[key] == shipped[key], key
    # The transfer set rebuilt from the folders is the one the teacher's logits were computed on.
    assert info["transfer_set"]["without_teacher_logits"] == 0
    assert info["max_difference_from_sklearn"] < 1e-3
    assert checkworthiness.load_model(str(tmp_path / "model.json.gz")).info == info


def test_a_bad_teacher_table_is_one_line_and_exit_2(tmp_path):
    data = tmp_path / "train.json"
    data.write_text(
        json.dumps([{"sentence_id": i, "label": i % 2, "text": f"Taxes rose {i}%."} for i in range(9)])
    )
    (tmp_path / "broken.npz").write_bytes(b"PK not a zip")
    np.savez(
        tmp_path / "unsorted.npz", keys=np.array([3, 1], dtype=np.uint64), logits=np.zeros(2, np.float32)
    )
    for name in ("broken.npz", "unsorted.npz", "missing.npz"):
        result = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "train-checkworthiness", "--data", str(data),
             "--teacher", str(tmp_path / name), "--output", str(tmp_path / "model.json.gz")],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and name in result.stderr, result.stderr
    with pytest.raises(InputError, match="not a teacher logits table: .*unsorted.npz .keys not sorted"):
        transfer.load_teacher(tmp_path / "unsorted.npz")
    assert not (tmp_path / "model.json.gz").exists()


def test_the_shipped_teacher_table_holds_no_text():
    with np.load(transfer.default_teacher_path()) as data:
        assert sorted(data.files) == ["keys", "logits"]  # hashes and numbers: no sentence
    table = transfer.load_teacher()
    assert len(table.keys) == 33_863 and table.keys.dtype == np.uint64 and table.logits.dtype == np.float32
    assert not table.lookup(["Not a sentence of the transfer set at all."])[1].any()


@needs_data
def test_the_teacher_table_knows_the_training_sentences():
    texts, labels = train.read_data(CLAIMBUSTER)
    train_idx, test_idx = train.held_out_split(labels)
    logits, found = transfer.load_teacher().lookup([texts[i] for i in train_idx])
    assert found.all()
    agree = np.mean((logits > 0) == np.array([labels[i] for i in train_idx], dtype=bool))
    assert agree > 0.85  # the teacher was fine-tuned on most of them
    # A held-out sentence is known only if the 85% has the same text too (2 of them do).
    held_out = [texts[i] for i in test_idx]
    known = [s for s, k in zip(held_out, transfer.load_teacher().lookup(held_out)[1], strict=True) if k]
    assert set(known) == set(held_out) & {texts[i] for i in train_idx}


def test_score_sentences_gives_the_pipelines_scores(spacy_nlp):
    article = parse_article(Message(payload=BUDGET))
    claims = to_avro(nlp.annotate(article, spacy_nlp(article.text), "test"))["claims"]
    assert len(claims) >= 3
    assert all(c["check_worthy"] == (c["score"] >= 0.5) for c in claims)
    assert all(c["check_worthy"] or c["speaker"] for c in claims)  # the others are no claims
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "score-sentences"],
        input="\n".join(c["text"] for c in claims) + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t", 1) for line in result.stdout.splitlines()]
    assert [(float(score), text) for score, text in lines] == [(c["score"], c["text"]) for c in claims]


def test_min_checkworthiness_drops_unattributed_claims_below_it(spacy_nlp):
    article = parse_article(Message(payload=BUDGET))
    annotations = nlp.extract(spacy_nlp(article.text), article.paragraphs, article.article_id)
    claims = annotations.claims
    unattributed = sorted(c.score for c in claims if c.speaker is None)
    assert len(unattributed) >= 2 and any(c.speaker for c in claims)
    cut = (unattributed[0] + unattributed[-1]) / 2  # between the least and the most check-worthy
    kept = keep_claims(annotations, cut).claims
    assert {c.claim_id for c in kept} == {c.claim_id for c in claims if c.speaker or c.score >= cut}
    assert len(kept) < len(claims)
    assert keep_claims(annotations, 0.0) == annotations  # the default keeps all

    def claims_with(minimum: float) -> list:
        return [c.claim_id for a in annotated_by_fn(article, min_checkworthiness=minimum) for c in a.claims]

    assert claims_with(cut) == [c.claim_id for c in kept]
    assert claims_with(0.0) == [c.claim_id for c in claims]


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan"])
def test_min_checkworthiness_outside_zero_to_one_is_an_option_error(value):
    argv = ["--input", str(ARTICLES / "*.txt"), "--output", "o", "--min-checkworthiness", value]
    with pytest.raises(OptionError, match="--min-checkworthiness must be between 0 and 1"):
        options.parse(argv)
    assert options.parse([*argv[:-1], "0.7"]).min_checkworthiness == 0.7


def test_a_bad_min_checkworthiness_is_one_line_and_exit_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--input", str(REPEATED_HEADLINE),
         "--output", str(tmp_path), "--min-checkworthiness", "2"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and "Traceback" not in result.stderr
    assert "--min-checkworthiness must be between 0 and 1, not 2.0" in result.stderr


def test_claims_read_back_keep_check_worthy(spacy_nlp):
    article = parse_article(message_from(REPEATED_HEADLINE))
    record = nlp.annotate(article, spacy_nlp(article.text), "test")
    assert record.claims
    assert all(c.check_worthy == (c.score >= 0.5) for c in record.claims)
    written = to_avro(record)
    assert [c["check_worthy"] for c in written["claims"]] == [c.check_worthy for c in record.claims]
    assert from_avro(ARTICLE, written).claims == record.claims
