"""Train the check-worthiness model: ``claimstream train-checkworthiness --data train.json
--unlabeled FOLDER ...``.

Data: the ClaimBuster sentences (Arslan et al., ICWSM 2020, doi 10.5281/zenodo.3609356),
a JSON list of ``{"sentence_id", "label", "text"}``, label 1 = check-worthy; and, optionally,
folders of unlabelled news articles (the shipped model: PolNeAR train and the BBC sample).

The model is a linear student distilled from a fine-tuned transformer teacher
(benchmarks/checkworthiness_distil.py): the teacher's logits ship as a table keyed by
sentence hash (:mod:`pipelines.claims.transfer`), so training needs no torch.

1. Hold out a stratified 15% (seed 13) for evaluation; it is never used to choose
   anything.
2. Build the transfer set from the other 85%: its sentences, augmented copies of them, and
   sentences of the ``--unlabeled`` folders (seeded); look up the teacher's logits (a
   sentence the table does not know is left out and counted).
3. Fit the student: the scorer's features in a logistic regression fitted to the teacher's
   soft targets, mixed half and half with the gold label where there is one (alpha 0.5,
   C 4, dense weight 0.03: chosen on the benchmark's dev split of the 85%).
4. Fit a Platt scaling on 5-fold out-of-fold logits of the 85%'s sentences (a copy is in
   its original's fold, news sentences spread over the folds) and move its intercept so
   that 0.5 is the threshold with the best out-of-fold F1.
5. Fit on the whole transfer set, export to the model file, check that the exported model
   scores exactly like scikit-learn, and report precision, recall and F1 at 0.5 on the
   held-out 15%, next to a word-TF-IDF baseline, and the cost per sentence.

Needs scikit-learn (``pip install claimstream[train]``); scoring does not.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipelines.claims.checkworthiness import (
    THRESHOLD,
    CheckWorthinessModel,
    DenseBlock,
    FeatureBlock,
    default_model_path,
    dense_features,
    word_text,
)
from pipelines.claims.transfer import ROUNDS, load_teacher, transfer_set

SEED = 13
HELD_OUT = 0.15
FOLDS = 5
#: The student's settings, chosen on the dev split of the 85% by benchmarks/checkworthiness_distil.py
#: (dev F1 0.778; C 2: 0.770, C 8: 0.767, alpha 0: 0.769, dense scale 0.1: 0.767): the gold
#: label's weight in the soft target, the regularization, and how much the standardized dense
#: features weigh next to the TF-IDF ones.
ALPHA = 0.5
C = 4.0
DENSE_SCALE = 0.03
TEACHER = "all-MiniLM-L6-v2 fine-tuned one epoch on the 85% less its dev split (held-out F1 0.836)"
#: wordllama dimensions pooled (its vectors are Matryoshka-trained: a prefix is an embedding).
DIMENSIONS = 64
THRESHOLDS = [round(0.20 + 0.01 * i, 2) for i in range(61)]
WORDS = {"ngram_range": (1, 2), "min_df": 2}
CHARS = {"ngram_range": (2, 5), "min_df": 3, "max_features": 60_000}


def read_data(path: Path) -> tuple[list[str], list[int]]:
    try:
        items = json.loads(path.read_text("utf-8"))
        return [str(item["text"]) for item in items], [int(item["label"]) for item in items]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"cannot read labeled sentences from {path} (--data): {e}") from None


def held_out_split(labels: list[int], fraction: float = HELD_OUT, seed: int = SEED) -> tuple[list, list]:
    """A stratified split of the indices, the same on every machine (no scikit-learn needed)."""
    train, test = [], []
    for label in sorted(set(labels)):
        indices = [i for i, y in enumerate(labels) if y == label]
        random.Random(f"{seed}-{label}").shuffle(indices)
        cut = round(len(indices) * fraction)
        test += indices[:cut]
        train += indices[cut:]
    return sorted(train), sorted(test)


def prf(labels: list[int], predicted: list[bool]) -> dict:
    tp = sum(1 for y, p in zip(labels, predicted, strict=True) if y and p)
    fp = sum(1 for y, p in zip(labels, predicted, strict=True) if not y and p)
    fn = sum(1 for y, p in zip(labels, predicted, strict=True) if y and not p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def fit_student(
    sentences, dense, teacher, gold, alpha: float = ALPHA, c: float = C, scale: float = DENSE_SCALE
):
    """The scorer's features (TF-IDF blocks fitted on ``sentences``, the dense features
    standardized on ``dense``) in a logistic regression fitted to soft targets: sigmoid of the
    teacher's logit, mixed with the gold label (weight ``alpha``) where there is one (gold -1:
    none). The soft cross-entropy is two weighted rows per sentence, one per class.

    Returns (vectorizers, mean, std, features, classifier), ``features(texts, dense_rows)``
    making the matrix the classifier scores.
    """
    import numpy as np
    from scipy.sparse import csr_matrix, hstack, vstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    soft = 1.0 / (1.0 + np.exp(-np.asarray(teacher, dtype=np.float64)))
    gold = np.asarray(gold)
    target = np.where(gold >= 0, alpha * np.maximum(gold, 0) + (1 - alpha) * soft, soft)
    vs = [
        TfidfVectorizer(
            preprocessor=word_text, token_pattern=r"\S+", lowercase=False, sublinear_tf=True, **WORDS
        ).fit(sentences),
        TfidfVectorizer(analyzer="char_wb", lowercase=True, sublinear_tf=True, **CHARS).fit(sentences),
    ]
    mean, std = dense.mean(axis=0), dense.std(axis=0) + 1e-6

    def features(texts_, dense_):
        sparse = [v.transform(texts_) for v in vs]
        return hstack([*sparse, csr_matrix((dense_ - mean) / std * scale)]).tocsr()

    x = features(sentences, dense)
    n = len(sentences)
    clf = LogisticRegression(C=c, max_iter=3000).fit(
        vstack([x, x]).tocsr(), np.r_[np.ones(n), np.zeros(n)], sample_weight=np.r_[target, 1 - target]
    )
    return vs, mean, std, features, clf


def best_f1(labels, logits) -> float:
    """The F1 of the positive class at its best cut of ``logits`` (every cut tried).

    >>> best_f1([1, 0, 1, 0], [2.0, 1.5, 1.0, -1.0])
    0.8
    """
    import numpy as np

    order = np.argsort(-np.asarray(logits), kind="stable")
    y = np.asarray(labels)[order]
    tp = np.cumsum(y)
    f1 = 2 * tp / (np.arange(1, len(y) + 1) + y.sum())
    # Only cuts between distinct values: tied sentences fall on the same side.
    last = np.r_[np.asarray(logits)[order][1:] != np.asarray(logits)[order][:-1], True]
    return round(float(f1[last].max()), 4)


def calibrated_at_half(labels: list[int], logits) -> tuple[float, float, float]:
    """A Platt scaling of ``logits`` with the F1-best cut folded into its intercept, so that
    0.5 is the decision: (a, b, the cut folded), scores being sigmoid(a * logit + b).

    >>> a, b, cut = calibrated_at_half([0, 0, 1, 0, 1, 1], [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])
    >>> a > 0, 0.2 <= cut <= 0.8
    (True, True)
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    logits = np.asarray(logits, dtype=np.float64)
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(logits.reshape(-1, 1), labels)
    a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
    calibrated = 1.0 / (1.0 + np.exp(-(a * logits + b)))
    cut = max(THRESHOLDS, key=lambda t: (prf(labels, list(calibrated >= t))["f1"], -abs(t - THRESHOLD)))
    return a, b - float(np.log(cut / (1 - cut))), cut


def oof_folds(train_idx: list[int], labels: list[int], pairs: list[tuple[str, int]]):
    """Each transfer pair's fold (0..4): the fold of the ClaimBuster sentence it comes from
    (stratified, seed 13, as the 85% alone), news sentences in turn; and each 85% sentence's."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    y = [labels[i] for i in train_idx]
    of = {}
    for f, (_, val) in enumerate(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(y, y)):
        of.update((train_idx[j], f) for j in val)
    news = iter(range(len(pairs)))
    pair_folds = np.array([of[o] if o >= 0 else next(news) % FOLDS for _, o in pairs])
    return pair_folds, np.array([of[i] for i in train_idx])


@dataclasses.dataclass
class StudentSet:
    """The transfer set as the student is fitted on it, and the 85%'s sentences."""

    pairs: list[tuple[str, int]]  # every transfer sentence and its origin (-1: news)
    known: Any  # bool per pair: the teacher table knows it (the others are left out)
    sentences: list[str]  # the known pairs' sentences
    dense: Any  # their dense features
    teacher_logits: Any
    gold: Any  # their gold labels, -1 where there is none
    pair_folds: Any  # their out-of-fold fold
    train_idx: list[int]
    x_text: list[str]  # the 85%'s sentences
    y: Any  # and their labels
    gold_folds: Any  # and their folds
    dense_texts: Any  # the dense features of every ClaimBuster sentence


def student_set(texts, labels, train_idx, table, unlabeled=(), rounds=ROUNDS) -> StudentSet:
    """The transfer set of the 85% (``train_idx``) with the teacher's logits, the gold labels,
    the dense features and the folds: what fitting and cross-validating the student need."""
    import numpy as np

    pairs = transfer_set(texts, train_idx, unlabeled, rounds)
    teacher_logits, known = table.lookup([s for s, _ in pairs])
    pair_folds, gold_folds = oof_folds(train_idx, labels, pairs)
    # The first len(train_idx) pairs are the 85%'s sentences themselves: their gold labels.
    gold = np.array([labels[o] if k < len(train_idx) else -1 for k, (_, o) in enumerate(pairs)])
    kept = np.flatnonzero(known)
    sentences = [pairs[k][0] for k in kept]
    unique = sorted(set(sentences) | set(texts))
    rows = {s: r for r, s in enumerate(unique)}
    dense_unique = dense_features(unique, DIMENSIONS).astype(np.float64)
    return StudentSet(
        pairs,
        known,
        sentences,
        dense_unique[[rows[s] for s in sentences]],
        teacher_logits[kept],
        gold[kept],
        pair_folds[kept],
        list(train_idx),
        [texts[i] for i in train_idx],
        np.array([labels[i] for i in train_idx]),
        gold_folds,
        dense_unique[[rows[s] for s in texts]],
    )


def out_of_fold_logits(st: StudentSet):
    """The student's logit of each of the 85%'s sentences from the fold that never saw it,
    nor its copies, nor a fifth of the news sentences."""
    import numpy as np

    oof = np.zeros(len(st.y))
    for f in range(FOLDS):
        fit = np.flatnonzero(st.pair_folds != f)
        _, _, _, features, clf = fit_student(
            [st.sentences[k] for k in fit], st.dense[fit], st.teacher_logits[fit], st.gold[fit]
        )
        val = np.flatnonzero(st.gold_folds == f)
        rows = st.dense_texts[np.asarray(st.train_idx)[val]]
        oof[val] = clf.decision_function(features([st.x_text[j] for j in val], rows))
    return oof


def train(
    data: Path,
    output: Path,
    unlabeled: Sequence[Path] = (),
    teacher: Path | None = None,
    rounds: Sequence[tuple[int, int, int]] = ROUNDS,
) -> dict:
    try:
        import numpy as np
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise ValueError("training needs scikit-learn: pip install 'claimstream[train]'") from None

    texts, labels = read_data(data)
    table = load_teacher(teacher)  # before the long part: a broken table is one line at once
    train_idx, test_idx = held_out_split(labels)
    started = time.time()
    st = student_set(texts, labels, train_idx, table, unlabeled, rounds)
    x_text, y, dense_texts = st.x_text, st.y, st.dense_texts
    sentences, dense, teacher_logits, gold = st.sentences, st.dense, st.teacher_logits, st.gold
    pairs, known = st.pairs, st.known
    oof = out_of_fold_logits(st)
    cv_f1 = best_f1(list(y), oof)

    a, b, cut = calibrated_at_half(list(y), oof)
    oof_scores = 1.0 / (1.0 + np.exp(-(a * oof + b)))
    cv_at_threshold = prf(list(y), list(oof_scores >= THRESHOLD))

    vs, mean, std, features, clf = fit_student(sentences, dense, teacher_logits, gold)
    blocks, start = [], 0
    for v, kind in zip(vs, ("words", "char_wb"), strict=True):
        terms = v.get_feature_names_out()
        weights = clf.coef_[0][start : start + len(terms)]
        start += len(terms)
        blocks.append(
            FeatureBlock(
                kind,
                tuple(v.ngram_range),
                {t: i for i, t in enumerate(terms)},
                [float(f"{x:.6g}") for x in v.idf_],
                [float(f"{x:.6g}") for x in weights],
            )
        )
    # The dense features' standardization and scale, folded into their weights.
    dense_weights = clf.coef_[0][start:] * DENSE_SCALE / std
    dense_block = DenseBlock(
        DIMENSIONS, [float(f"{x:.8g}") for x in dense_weights], float(-(dense_weights * mean).sum())
    )
    exported = CheckWorthinessModel(blocks, dense_block, float(clf.intercept_[0]), (a, b), {})

    test_texts = [texts[i] for i in test_idx]
    test_labels = [labels[i] for i in test_idx]
    reference = clf.decision_function(features(test_texts, dense_texts[test_idx]))
    drift = float(np.abs(exported.logits(test_texts) - reference).max())
    if drift > 1e-3:
        raise RuntimeError(f"the exported model scores differ from scikit-learn's by up to {drift:.2e}")
    scores = exported.scores(test_texts)
    cost = scoring_cost(exported, test_texts)

    baseline_vs = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(x_text)
    baseline = LogisticRegression(max_iter=5000, class_weight="balanced")
    baseline.fit(baseline_vs.transform(x_text), y)
    baseline_pred = baseline.predict(baseline_vs.transform(test_texts))

    origins = np.array([o for _, o in pairs])
    info = {
        "data": "ClaimBuster (Arslan et al., ICWSM 2020, doi 10.5281/zenodo.3609356)",
        "sentences": len(texts),
        "train": len(train_idx),
        "held_out": len(test_idx),
        "split": f"stratified {HELD_OUT:.0%}, seed {SEED}",
        "teacher": TEACHER,
        "transfer_set": {
            "rounds (seed, copies, per folder)": [list(r) for r in rounds],
            "sentences": len(pairs),
            "claimbuster": len(train_idx),
            "augmented_copies": int((origins >= 0).sum()) - len(train_idx),
            "unlabeled_folders": len(unlabeled),
            "unlabeled_sentences": int((origins < 0).sum()),
            "without_teacher_logits": int((~known).sum()),
        },
        "alpha": ALPHA,
        "C": C,
        "dense_scale": DENSE_SCALE,
        "wordllama_dimensions": DIMENSIONS,
        "cv_f1": cv_f1,
        "cv_scores_at_threshold": cv_at_threshold,
        "calibration": {"a": round(a, 6), "b": round(b, 6), "oof_threshold_folded": cut},
        "threshold": THRESHOLD,
        "held_out_scores": prf(test_labels, [s >= THRESHOLD for s in scores]),
        "baseline_word_tfidf_lr": prf(test_labels, [bool(p) for p in baseline_pred]),
        "ms_per_sentence": cost,
        "max_difference_from_sklearn": float(f"{drift:.2e}"),
        "training_seconds": round(time.time() - started, 1),
        "features": sum(len(b.index) for b in blocks) + len(dense_block.weights),
    }
    exported.info = info
    output.parent.mkdir(parents=True, exist_ok=True)
    exported.save(output)
    return info


def scoring_cost(model: CheckWorthinessModel, sentences: list[str], per_call: int = 16) -> dict:
    """Milliseconds per sentence on this core, scored ``per_call`` at a time (an article's worth):
    the whole model, and its TF-IDF part alone (all the previous, linear model did). Best of 3."""
    batches = [sentences[i : i + per_call] for i in range(0, len(sentences), per_call)]
    model.scores(batches[0])  # load wordllama first

    def best_of_3(work) -> float:
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            for batch in batches:
                work(batch)
            times.append(time.perf_counter() - t0)
        return round(1000 * min(times) / len(sentences), 4)

    return {
        "scorer": best_of_3(model.scores),
        "tfidf_part_alone": best_of_3(lambda b: [blk.contributions(b) for blk in model.blocks]),
    }


def default_output() -> Path:
    return Path(str(default_model_path()))
