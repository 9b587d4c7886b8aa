"""Claims: check-worthy sentences, and who makes them.

A claim is a sentence that asserts something checkable or that holds an
attribution. Each gets:

- ``score``: check-worthiness in 0..1 (:mod:`pipelines.claims.scorer`: the linear model, and
  the fine-tuned transformer where the linear score is unsure), the article's sentences scored
  in one call; ``check_worthy``: the score is at least 0.5, the calibrated threshold. A
  check-worthy sentence is a claim even without a speaker;
- ``attributions``: every source, cue and content of the sentence, from the
  dependency parse (:mod:`pipelines.claims.attribution`): verbs of saying ("A
  senior US official confirmed ..."), of belief and intention ("Democrats fear
  ..."), their inverted forms ("..., said Ms Hewitt."), "According to X, ...",
  "Name: ..." lines; "he"/"she"/"it"/"they" resolved (:mod:`pipelines.claims.pronouns`);
- ``speaker`` / ``speaker_type`` / ``cue``: the main attribution, the first
  outermost one (not inside another's content);
- ``quoted``: the claim is (part of) a direct quotation. A quotation that runs
  over several sentences keeps the speaker named at its start or end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from spacy.tokens import Doc

from pipelines.claims import agents
from pipelines.claims.attribution import Attribution, attributions, main_attribution
from pipelines.claims.quotations import quotation_states, spread_over_quotations
from pipelines.claims.scorer import Scorer, load_scorer


def find_claims(
    doc: Doc, sentences: Sequence[dict], article_id: str, model: Scorer | None = None
) -> list[dict]:
    """The ``Claim`` records of one article: check-worthy or attributed sentences.

    >>> # "The New York Times revealed that 40 bases were targeted." ->
    >>> # [{"speaker": "The New York Times", "speaker_type": "ORGANIZATION", "cue": "revealed", ...}]
    """
    model = model or load_scorer()
    spans = [doc.char_span(s["start"], s["end"], alignment_mode="expand") for s in sentences]
    quoted, starts_quoted = quotation_states(sentences)
    found = [attributions(span, doc) if span is not None else [] for span in spans]
    # In a quotation, a belief ("Nobody wanted ...") is the quoted speaker's words, not theirs;
    # not before a scare quote ('Ramos believes in journalism that "takes sides."').
    mains = [
        main_attribution([a for a in f if not (in_quotation and a.cue_kind == "STANCE")])
        for f, in_quotation in zip(found, starts_quoted, strict=True)
    ]
    spread_over_quotations(mains, quoted, sentences)

    result = []
    scores = model.scores([s["text"] for s in sentences])
    rows = zip(sentences, spans, mains, found, quoted, scores, strict=True)
    for sentence, span, attribution, own, is_quoted, raw_score in rows:
        if span is None:
            continue
        score = round(raw_score, 4)
        check_worthy = score >= model.threshold
        if not check_worthy and attribution.speaker is None:
            continue
        if not own and attribution.speaker is not None:  # a quotation run's speaker
            own = [dataclasses.replace(attribution, content=(sentence["start"], sentence["end"]))]
        result.append(
            {
                "claim_id": f"{article_id}:{sentence['index']}",
                "sentence": sentence["index"],
                "text": sentence["text"],
                "start": sentence["start"],
                "end": sentence["end"],
                "score": score,
                "check_worthy": check_worthy,
                "speaker": attribution.speaker,
                "speaker_type": attribution.speaker_type,
                "cue": attribution.cue,
                "quoted": is_quoted,
                "attributions": [_as_dict(a) for a in own],
                "syntax": dataclasses.astuple(agents.syntax(span)),
            }
        )
    return result


def _as_dict(attribution: Attribution) -> dict:
    """One attribution as the fields of ``records.Attribution``."""
    source = attribution.source
    cue_start, cue_end = attribution.cue_span or (0, 0)
    content_start, content_end = attribution.content or (0, 0)
    return {
        "source": {"text": source[0], "start": source[1], "end": source[2]} if source else None,
        "speaker": attribution.speaker,
        "speaker_type": attribution.speaker_type,
        "cue": {"text": attribution.cue or "", "start": cue_start, "end": cue_end},
        "cue_kind": attribution.cue_kind,
        "content": {"start": content_start, "end": content_end},
    }
