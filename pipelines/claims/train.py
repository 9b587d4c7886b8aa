"""Train the check-worthiness model: ``claimstream train-checkworthiness --data train.json``.

Data: the ClaimBuster sentences (Arslan et al., ICWSM 2020, doi 10.5281/zenodo.3609356),
a JSON list of ``{"sentence_id", "label", "text"}``, label 1 = check-worthy.

1. Hold out a stratified 15% (seed 13) for evaluation; it is never used to choose
   anything.
2. On the other 85%, choose the regularization C and the decision threshold by
   5-fold cross-validation (out-of-fold F1 of the positive class).
3. Fit on the whole 85%, export to the model file, check that the exported model
   scores exactly like scikit-learn, and report precision, recall and F1 on the
   held-out 15%, next to a word-TF-IDF baseline.

Needs scikit-learn (``pip install claimstream[train]``); scoring does not.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from pipelines.claims.checkworthiness import (
    CheckWorthinessModel,
    FeatureBlock,
    default_model_path,
    word_text,
)

SEED = 13
HELD_OUT = 0.15
C_GRID = (1.0, 2.0, 4.0, 8.0)
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


def train(data: Path, output: Path) -> dict:
    try:
        import numpy as np
        from scipy.sparse import hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold
    except ImportError:
        raise ValueError("training needs scikit-learn: pip install 'claimstream[train]'") from None

    texts, labels = read_data(data)
    train_idx, test_idx = held_out_split(labels)
    x_text = [texts[i] for i in train_idx]
    y = np.array([labels[i] for i in train_idx])

    def vectorizers():
        return [
            TfidfVectorizer(
                preprocessor=word_text, token_pattern=r"\S+", lowercase=False, sublinear_tf=True, **WORDS
            ),
            TfidfVectorizer(analyzer="char_wb", lowercase=True, sublinear_tf=True, **CHARS),
        ]

    def fit(texts_, labels_, c):
        vs = [v.fit(texts_) for v in vectorizers()]
        features = hstack([v.transform(texts_) for v in vs]).tocsr()
        clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(features, labels_)
        return vs, clf

    def predict(model, texts_):
        vs, clf = model
        return clf.predict_proba(hstack([v.transform(texts_) for v in vs]).tocsr())[:, 1]

    started = time.time()
    folds = list(StratifiedKFold(5, shuffle=True, random_state=SEED).split(x_text, y))
    best = None
    for c in C_GRID:
        oof = np.zeros(len(y))
        for fit_i, val_i in folds:
            model = fit([x_text[i] for i in fit_i], y[fit_i], c)
            oof[val_i] = predict(model, [x_text[i] for i in val_i])
        for threshold in np.arange(0.20, 0.80, 0.01):
            f1 = prf(list(y), list(oof >= threshold))["f1"]
            if best is None or f1 > best[0]:
                best = (f1, c, round(float(threshold), 2))
    cv_f1, c, threshold = best
    vs, clf = fit(x_text, y, c)

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
    test_texts = [texts[i] for i in test_idx]
    test_labels = [labels[i] for i in test_idx]
    reference = predict((vs, clf), test_texts)
    exported = CheckWorthinessModel(blocks, float(clf.intercept_[0]), threshold, {})
    t0 = time.perf_counter()
    scores = exported.scores(test_texts)
    per_second = len(test_texts) / (time.perf_counter() - t0)
    drift = max(abs(a - b) for a, b in zip(scores, reference, strict=True))
    if drift > 1e-3:
        raise RuntimeError(f"the exported model scores differ from scikit-learn's by up to {drift:.2e}")

    baseline_vs = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(x_text)
    baseline = LogisticRegression(max_iter=5000, class_weight="balanced")
    baseline.fit(baseline_vs.transform(x_text), y)
    baseline_pred = baseline.predict(baseline_vs.transform(test_texts))

    info = {
        "data": "ClaimBuster (Arslan et al., ICWSM 2020, doi 10.5281/zenodo.3609356)",
        "sentences": len(texts),
        "train": len(train_idx),
        "held_out": len(test_idx),
        "split": f"stratified {HELD_OUT:.0%}, seed {SEED}",
        "C": c,
        "threshold": threshold,
        "cv_f1": cv_f1,
        "held_out_scores": prf(test_labels, [s >= threshold for s in scores]),
        "baseline_word_tfidf_lr": prf(test_labels, [bool(p) for p in baseline_pred]),
        "scorer_sentences_per_second": round(per_second),
        "max_difference_from_sklearn": float(f"{drift:.2e}"),
        "training_seconds": round(time.time() - started, 1),
        "features": sum(len(b.index) for b in blocks),
    }
    exported.info = info
    output.parent.mkdir(parents=True, exist_ok=True)
    exported.save(output)
    return info


def default_output() -> Path:
    return Path(str(default_model_path()))
