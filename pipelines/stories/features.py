"""What the story stage needs of an article that depends on the article alone.

The profile (``profile.py``) and the claim profiles (``claims.py``) need only the
annotated article, not the story index. So the NLP worker processes compute them
beside the parse, in parallel, and the article carries them to the stage (they are
never written): the stage's own single thread keeps only what needs the index. An
article without them (read back from a file, or annotated in this process) gets
them from the stage.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pipelines.records import EnrichedArticle
from pipelines.stories.claims import claim_profiles
from pipelines.stories.profile import ArticleProfile, profile_of


@dataclasses.dataclass(frozen=True)
class StoryFeatures:
    """An article's profile (its occurrence key and event time left for the stage) and the
    profiles of its claims."""

    profile: ArticleProfile
    claims: list[dict[str, Any]]

    def placed(self, key: str, event_time_ms: int) -> ArticleProfile:
        """The profile of the article read at ``key``, happening at ``event_time_ms``."""
        return dataclasses.replace(self.profile, key=key, event_time_ms=event_time_ms)


def story_features(article: EnrichedArticle) -> StoryFeatures:
    """The features of one annotated article.

    >>> from pipelines.records import Source
    >>> text = "A quake hit Lima on Tuesday."
    >>> found = story_features(EnrichedArticle("a1", Source(), "Quake", text, "utf-8", (), (), (), "m"))
    >>> found.placed("a1@news/0/7", 5).key, found.claims
    ('a1@news/0/7', [])
    """
    return StoryFeatures(profile_of(article, "", 0), claim_profiles(article))
