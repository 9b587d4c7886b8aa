"""Train the check-worthiness model: ``claimstream train-checkworthiness --data train.json``.

Data: the ClaimBuster sentences (Arslan et al., ICWSM 2020, doi 10.5281/zenodo.3609356),
a JSON list of ``{"sentence_id", "label", "text"}``, label 1 = check-worthy.

1. Hold out a stratified 15% (seed 13) for evaluation; it is never used to choose
   anything.
2. On the other 85%, choose the regularization C and the weight of the dense
   features (cues and wordllama pools) by 5-fold cross-validation (out-of-fold F1
   of the positive class at its best threshold).
3. Fit a Platt scaling on the chosen setting's out-of-fold scores and move its
   intercept so that 0.5 is the threshold with the best out-of-fold F1.
4. Fit on the whole 85%, export to the model file, check that the exported model
   scores exactly like scikit-learn, and report precision, recall and F1 at 0.5 on
   the held-out 15%, next to a word-TF-IDF baseline, and the cost per sentence.

Needs scikit-learn (``pip install claimstream[train]``); scoring does not.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from pipelines.claims.checkworthiness import (
    THRESHOLD,
    CheckWorthinessModel,
    DenseBlock,
    FeatureBlock,
    default_model_path,
    dense_features,
    word_text,
)

SEED = 13
HELD_OUT = 0.15
C_GRID = (1.0, 2.0, 4.0)
#: How much the standardized dense features weigh next to the TF-IDF ones (its inverse
#: is their share of the regularization).
DENSE_SCALE_GRID = (0.03, 0.05, 0.1)
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


def train(data: Path, output: Path) -> dict:
    try:
        import numpy as np
        from scipy.sparse import csr_matrix, hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold
    except ImportError:
        raise ValueError("training needs scikit-learn: pip install 'claimstream[train]'") from None

    texts, labels = read_data(data)
    train_idx, test_idx = held_out_split(labels)
    x_text = [texts[i] for i in train_idx]
    y = np.array([labels[i] for i in train_idx])
    started = time.time()
    dense_all = dense_features(texts, DIMENSIONS).astype(np.float64)
    dense = dense_all[train_idx]

    def vectorizers():
        return [
            TfidfVectorizer(
                preprocessor=word_text, token_pattern=r"\S+", lowercase=False, sublinear_tf=True, **WORDS
            ),
            TfidfVectorizer(analyzer="char_wb", lowercase=True, sublinear_tf=True, **CHARS),
        ]

    def featurizer(rows):
        """TF-IDF fitted on ``rows`` and the dense features standardized on them: a function
        from (rows, scale) to the feature matrix."""
        vs = [v.fit([x_text[i] for i in rows]) for v in vectorizers()]
        mean, std = dense[rows].mean(axis=0), dense[rows].std(axis=0) + 1e-6

        def features(texts_, dense_, scale):
            sparse = [v.transform(texts_) for v in vs]
            return hstack([*sparse, csr_matrix((dense_ - mean) / std * scale)]).tocsr()

        return vs, mean, std, features

    def classifier(c):
        return LogisticRegression(C=c, max_iter=5000, class_weight="balanced")

    # Cross-validation: each fold's features are made once, for every setting.
    folds = list(StratifiedKFold(5, shuffle=True, random_state=SEED).split(x_text, y))
    prepared = [(fit_i, val_i, featurizer(fit_i)[3]) for fit_i, val_i in folds]
    cv, best = {}, None
    for c in C_GRID:
        for scale in DENSE_SCALE_GRID:
            oof = np.zeros(len(y))
            for fit_i, val_i, features in prepared:
                fit_x = features([x_text[i] for i in fit_i], dense[fit_i], scale)
                clf = classifier(c).fit(fit_x, y[fit_i])
                oof[val_i] = clf.decision_function(features([x_text[i] for i in val_i], dense[val_i], scale))
            f1 = max(prf(list(y), list(oof >= np.log(t / (1 - t))))["f1"] for t in THRESHOLDS)
            cv[f"C={c}, dense scale={scale}"] = f1
            if best is None or f1 > best[0]:
                best = (f1, c, scale, oof)
    cv_f1, c, scale, oof = best

    # Platt scaling on the out-of-fold logits, then the F1-best threshold folded into it.
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(oof.reshape(-1, 1), y)
    a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
    calibrated = 1.0 / (1.0 + np.exp(-(a * oof + b)))
    cut = max(THRESHOLDS, key=lambda t: (prf(list(y), list(calibrated >= t))["f1"], -abs(t - THRESHOLD)))
    b -= float(np.log(cut / (1 - cut)))
    oof_scores = 1.0 / (1.0 + np.exp(-(a * oof + b)))
    cv_at_threshold = prf(list(y), list(oof_scores >= THRESHOLD))

    vs, mean, std, features = featurizer(np.arange(len(y)))
    clf = classifier(c).fit(features(x_text, dense, scale), y)
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
    dense_weights = clf.coef_[0][start:] * scale / std
    dense_block = DenseBlock(
        DIMENSIONS, [float(f"{x:.8g}") for x in dense_weights], float(-(dense_weights * mean).sum())
    )
    exported = CheckWorthinessModel(blocks, dense_block, float(clf.intercept_[0]), (a, b), {})

    test_texts = [texts[i] for i in test_idx]
    test_labels = [labels[i] for i in test_idx]
    reference = clf.decision_function(features(test_texts, dense_all[test_idx], scale))
    drift = float(np.abs(exported.logits(test_texts) - reference).max())
    if drift > 1e-3:
        raise RuntimeError(f"the exported model scores differ from scikit-learn's by up to {drift:.2e}")
    scores = exported.scores(test_texts)
    cost = scoring_cost(exported, test_texts)

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
        "dense_scale": scale,
        "wordllama_dimensions": DIMENSIONS,
        "cv_f1_by_setting": cv,
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
