"""Story assignment with the real spaCy model and the real in-memory index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines import nlp
from pipelines.parse import parse_article
from pipelines.records import EnrichedArticle, Message
from pipelines.stories.index import MemoryIndex
from pipelines.stories.match import decide
from pipelines.stories.profile import ArticleProfile, profile_of

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"
FIXTURES = Path(__file__).parent / "fixtures" / "stories" / "match"
FIRST, LATER = "000_96e8961fbe36ce22.txt", "002_2632260b12f96602.txt"
WINDOW_MS = 7 * 86_400_000
T0 = 1_717_200_000_000


def annotated(spacy_nlp, text: str, name: str) -> EnrichedArticle:
    article = parse_article(Message(text.encode(), key=name))
    return nlp.annotate(article, spacy_nlp(article.text), nlp.model_name(spacy_nlp))


def feed(index: MemoryIndex, article: EnrichedArticle, where: str, event_time_ms: int = T0):
    """What the stage does with one article: profile, decide, add."""
    profile = profile_of(article, f"{article.article_id}@{where}", event_time_ms)
    decision = decide(profile, index, WINDOW_MS)
    index.add(profile.key, article.article_id, decision.story_id, event_time_ms, profile.keys,
              {"profile": profile.to_dict()})  # fmt: skip
    return decision


@pytest.fixture(scope="module")
def samples(spacy_nlp) -> dict[str, EnrichedArticle]:
    return {name: annotated(spacy_nlp, (SAMPLES / name).read_text("utf-8"), name) for name in (FIRST, LATER)}


def test_the_two_versions_of_the_feed_story_are_one_story(samples):
    index = MemoryIndex()
    first = feed(index, samples[FIRST], "feed/0/0")
    later = feed(index, samples[LATER], "feed/0/1", T0 + 3_600_000)
    assert (first.relation, first.story_id, first.previous_article_id) == ("NEW", "96e8961fbe36ce22", None)
    assert (later.relation, later.story_id) == ("VERSION", "96e8961fbe36ce22")
    assert later.previous_article_id == "96e8961fbe36ce22"
    assert 0.5 < later.similarity <= 1.0


def test_a_repost_differing_only_in_formatting_is_a_duplicate(spacy_nlp, samples):
    text = (SAMPLES / FIRST).read_text("utf-8")
    repost = text.replace("\u2019", "'").replace(", ", " ,  ").replace("US official", "US  official").upper()
    index = MemoryIndex()
    feed(index, samples[FIRST], "feed/0/0")
    decision = feed(index, annotated(spacy_nlp, repost, "repost.txt"), "other/0/7")
    assert decision == decision.__class__("96e8961fbe36ce22", "DUPLICATE", "96e8961fbe36ce22", 1.0)


def test_two_earthquakes_are_two_stories_and_an_unrelated_article_is_new(spacy_nlp, samples):
    index = MemoryIndex()
    feed(index, samples[FIRST], "feed/0/0")
    found = {}
    for name in ("quake_chile_2019.txt", "quake_turkey_2022.txt", "bakery_prize.txt"):
        article = annotated(spacy_nlp, (FIXTURES / name).read_text("utf-8"), name)
        found[name] = (article.article_id, feed(index, article, f"fixtures/{name}"))
    chile, turkey = found["quake_chile_2019.txt"], found["quake_turkey_2022.txt"]
    # The two quakes do find each other (shared words and names), and are told apart.
    turkey_profile = ArticleProfile.from_dict(index.members(turkey[1].story_id, 1)[0].payload["profile"])
    assert any(e.article_id == chile[0] for e, _ in index.candidates(turkey_profile.keys, T0, WINDOW_MS, 50))
    for article_id, decision in found.values():
        assert (decision.relation, decision.story_id, decision.previous_article_id) == (
            "NEW",
            article_id,
            None,
        )


def test_the_profile_survives_json_and_never_matches_itself(samples):
    profile = profile_of(samples[LATER], "2632260b12f96602@feed/0/1", T0)
    encoded = json.dumps(profile.to_dict(), separators=(",", ":"))
    assert ArticleProfile.from_dict(json.loads(encoded)) == profile
    assert len(encoded) < 4_000
    assert profile.text_hash and any(k.startswith("b") for k in profile.keys)
    assert any(k.startswith("a:") for k in profile.keys) and "2024" in profile.lead.years
    index = MemoryIndex()
    index.add(
        profile.key, profile.article_id, profile.article_id, T0, profile.keys, {"profile": profile.to_dict()}
    )
    assert decide(profile, index, WINDOW_MS).relation == "NEW"  # its own entry is no candidate
