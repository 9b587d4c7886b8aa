"""Build and measure the check-worthiness cascade: the linear score, and the transformer where
the linear score is unsure (pipelines/claims/scorer.py).

1. Export the fine-tuned teacher (benchmarks/checkworthiness_distil.py saves teacher A in
   ``--out``/teacher_a: all-MiniLM-L6-v2, one epoch on the fit part of the 85%) to ONNX, its
   logit difference, weights quantized to int8 per channel; gzip its tokenizer.
2. Calibrate its logit on the dev split (12% of the 85%, which it never trained on): Platt
   scaling with the F1-best cut folded in, so that 0.5 is the decision.
3. Choose the band on dev: the linear model's out-of-fold scores of the dev sentences
   (the folds of ``claimstream train-checkworthiness``, so each score comes from a student that
   never saw the sentence) replaced by the transformer's where ``|score - 0.5| < band``; the
   narrowest band whose dev F1 is within 0.002 of the best.
4. Write the calibration, the band and the tokens kept into the ONNX file's metadata, and the
   two files to ``--models`` (default: the package's models folder).
5. Report on the held-out 15% (never used to choose anything): the linear model, the
   transformer alone, the cascade, and the share of sentences the transformer scores; and,
   with ``--articles``, that share and the transformer's cost on news sentences.

Steps 1 and 4 need the transformer benchmark's packages (``torch==2.13.0 transformers onnx``);
the pipeline needs only onnxruntime and tokenizers. ::

    python benchmarks/checkworthiness_cascade.py --data ../shared/data/claimbuster/train.json \
        --unlabeled ../shared/data/polnear/train/text ../shared/samples/bbc \
        --teacher /tmp/distil/teacher_a --articles ../shared/samples/bbc

About 3 minutes (the out-of-fold students take most of it).
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import checkworthiness_distil as cd  # noqa: E402
import checkworthiness_transformer as ct  # noqa: E402

from pipelines.claims import checkworthiness, transformer  # noqa: E402
from pipelines.claims.scorer import CascadeScorer  # noqa: E402
from pipelines.claims.train import (  # noqa: E402
    calibrated_at_half,
    out_of_fold_logits,
    prf,
    read_data,
    student_set,
)
from pipelines.claims.transfer import load_teacher, split_sentences  # noqa: E402

BANDS = [round(0.05 * k, 2) for k in range(1, 11)]
CUTS = [round(0.30 + 0.02 * k, 2) for k in range(16)]
BOOTSTRAP = 300
SEED = 13
#: A wider band costs time on every article: the narrowest within this of the best dev F1.
WITHIN = 0.002


def export(teacher: Path, folder: Path) -> tuple[Path, Path]:
    """The teacher as int8 ONNX (its logit) and its tokenizer, gzipped, in ``folder``."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(teacher)
    tokenizer = AutoTokenizer.from_pretrained(teacher)
    onnx_file = ct.export_int8(model, tokenizer, folder, logit=True, per_channel=True)
    words = folder / transformer.TOKENIZER_RESOURCE
    with gzip.open(words, "wt", encoding="utf-8", compresslevel=9) as f:
        f.write((teacher / "tokenizer.json").read_text(encoding="utf-8"))
    return onnx_file, words


def unsettled(onnx_file: Path, words: Path) -> transformer.TransformerModel:
    """The exported model before its settings are written: for its raw logits."""
    session, tokenizer = transformer.open_session(onnx_file), transformer.open_tokenizer(words, ct.MAX_TOKENS)
    return transformer.TransformerModel(session, tokenizer, (1.0, 0.0), 0.0, {})


def cascade_f1(labels, linear, teacher, band: float, cut: float = 0.5) -> float:
    """F1 of the linear scores at 0.5, the teacher's (at ``cut``) taking over within ``band`` of 0.5.

    >>> cascade_f1([1, 0, 1], [0.9, 0.55, 0.45], [0.1, 0.2, 0.8], 0.1)
    1.0
    """
    import numpy as np

    linear, teacher, labels = np.asarray(linear), np.asarray(teacher), np.asarray(labels)
    chosen = np.where(np.abs(linear - 0.5) < band, teacher >= cut, linear >= 0.5)
    return float(2 * (chosen & (labels == 1)).sum() / max(1, chosen.sum() + labels.sum()))


def choose(labels, linear, teacher) -> tuple[float, float, dict]:
    """The band and the teacher's cut on dev: each pair's mean cascade F1 over bootstrap
    resamples (the F1-best cut of 813 sentences alone moved from 0.49 to 0.57 with the
    logits' last digits); the narrowest band within WITHIN of the best, at its best cut."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    samples = [rng.integers(0, len(labels), len(labels)) for _ in range(BOOTSTRAP)]
    labels, linear, teacher = np.asarray(labels), np.asarray(linear), np.asarray(teacher)
    mean_f1 = {
        (band, cut): float(
            np.mean([cascade_f1(labels[i], linear[i], teacher[i], band, cut) for i in samples])
        )
        for band in BANDS
        for cut in CUTS
    }
    best_by_band = {band: max(CUTS, key=lambda c, b=band: mean_f1[(b, c)]) for band in BANDS}
    top = max(mean_f1.values())
    band = min(b for b, c in best_by_band.items() if mean_f1[(b, c)] >= top - WITHIN)
    return band, best_by_band[band], {b: round(mean_f1[(b, c)], 4) for b, c in best_by_band.items()}


def write_settings(onnx_file: Path, settings: dict[str, str]) -> None:
    import onnx

    model = onnx.load(str(onnx_file))
    del model.metadata_props[:]
    for key, value in settings.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(onnx_file))


def news_cost(model: CascadeScorer, folder: Path, count: int = 300) -> None:
    """Of ``count`` articles' sentences: the share the transformer takes, and its cost."""
    files = sorted(folder.rglob("*.txt"))
    files = files[:: max(1, len(files) // count)][:count]
    sentences = [s for f in files for s in split_sentences(f.read_text(encoding="utf-8", errors="replace"))]
    linear = model.linear.scores(sentences)
    unsure = [s for s, p in zip(sentences, linear, strict=True) if abs(p - 0.5) < model.transformer.band]
    started = time.perf_counter()
    model.transformer.scores(unsure)
    seconds = time.perf_counter() - started
    print(
        f"{len(files)} articles of {folder}: {len(sentences) / len(files):.1f} sentences each, "
        f"{len(unsure) / len(sentences):.1%} to the transformer, {seconds / len(unsure) * 1000:.2f} ms "
        f"a sentence, {seconds / len(files) * 1000:.1f} ms an article (one thread)"
    )


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="ClaimBuster train.json")
    parser.add_argument("--unlabeled", nargs="*", default=[], help="the shipped student's article folders")
    parser.add_argument("--teacher", type=Path, default=Path("/tmp/distil/teacher_a"))
    parser.add_argument("--models", type=Path, default=Path(transformer.default_paths()[0]).parent)
    parser.add_argument("--articles", type=Path, default=None, help="news articles for the cost (*.txt)")
    args = parser.parse_args(argv)

    texts, labels = read_data(args.data)
    train_idx, test_idx, _, dev_idx = cd.split(labels)
    dev, y_dev = [texts[i] for i in dev_idx], [labels[i] for i in dev_idx]
    test, y_test = [texts[i] for i in test_idx], [labels[i] for i in test_idx]
    with tempfile.TemporaryDirectory() as tmp:
        onnx_file, words = export(args.teacher, Path(tmp))
        raw = unsettled(onnx_file, words)
        logits_dev = raw.logits(dev)
        a, b, cut = calibrated_at_half(y_dev, logits_dev)
        b += float(np.log(cut / (1 - cut)))  # the plain Platt scaling: the cut is chosen below
        teacher_dev = 1.0 / (1.0 + np.exp(-(a * logits_dev + b)))

        st = student_set(texts, labels, train_idx, load_teacher(), [Path(f) for f in args.unlabeled])
        oof = out_of_fold_logits(st)
        sa, sb, _ = calibrated_at_half(list(st.y), oof)
        oof_scores = dict(zip(train_idx, 1.0 / (1.0 + np.exp(-(sa * oof + sb))), strict=True))
        linear_dev = [oof_scores[i] for i in dev_idx]
        band, cut, by_band = choose(y_dev, linear_dev, teacher_dev)
        b -= float(np.log(cut / (1 - cut)))  # folded in: 0.5 is the decision
        print("dev, mean bootstrap F1 by band (at its best cut):", by_band)
        print(f"-> band {band}, cut {cut}; calibration a {a:.6f} b {b:.6f}", flush=True)

        write_settings(
            onnx_file,
            {
                "calibration": f"{a:.8g} {b:.8g}",
                "band": str(band),
                "max_tokens": str(ct.MAX_TOKENS),
                "teacher": checkworthiness.load_model().info.get("teacher", ""),
                "made_by": "benchmarks/checkworthiness_cascade.py",
            },
        )
        args.models.mkdir(parents=True, exist_ok=True)
        model_path = args.models / transformer.MODEL_RESOURCE
        model_path.write_bytes(onnx_file.read_bytes())
        (args.models / transformer.TOKENIZER_RESOURCE).write_bytes(words.read_bytes())

    network = transformer.load_transformer(str(model_path), str(args.models / transformer.TOKENIZER_RESOURCE))
    cascade = CascadeScorer(checkworthiness.load_model(), network)
    linear = cascade.linear.scores(test)
    routed = np.mean([abs(s - 0.5) < band for s in linear])
    for name, scores in (
        ("linear", linear),
        ("transformer", network.scores(test)),
        ("cascade", cascade.scores(test)),
    ):
        print(f"held out, {name:12}", prf(y_test, [s >= 0.5 for s in scores]))
    print(f"held out: {routed:.1%} of the sentences to the transformer; wrote {model_path}")
    if args.articles:
        news_cost(cascade, args.articles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
