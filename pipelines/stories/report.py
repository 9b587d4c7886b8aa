"""The ``claimstream stories OUTPUT`` report: what the story stage found, readable at a glance.

The first thing to look at after a run: each story told more than once, its
versions in order, and for each later version the claims that changed (with
their typed changes), the claims it dropped and the claims it added. Stories of
one article are only counted. It reads the articles files the way ``claimstream
inspect`` does (Avro or Parquet, in time-partition folders too).
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from pipelines.errors import InputError
from pipelines.records import ARTICLE, Change, Claim, EnrichedArticle, from_avro

#: Characters of a claim or title shown on its line.
WIDTH = 100


def read_articles(output: str) -> list[EnrichedArticle]:
    """The articles of an output folder (its ``articles`` folder if it has one), in one format:
    a run with ``--format avro,parquet`` holds every article twice."""
    from pipelines.sinks.fileformats import FILE_FORMATS, list_files

    folder = Path(output)
    if not folder.is_dir():
        raise InputError(f"no such folder: {output}")
    if (folder / "articles").is_dir():
        folder = folder / "articles"
    for name, file_format in FILE_FORMATS.items():
        articles = []
        for file in list_files(str(folder), formats=(name,)):
            try:
                records = list(file_format.read(file))
            except (ValueError, EOFError, OSError) as e:
                raise InputError(f"{file} is not a readable {name} file: {e}") from None
            articles.extend(from_avro(ARTICLE, r) for r in records if "article_id" in r)
        if articles:
            return articles
    raise InputError(f"no article files (.avro or .parquet) in {output}")


def render(articles: Iterable[EnrichedArticle]) -> str:
    """The report of ``articles``: one block per story of several versions, then the counts.

    >>> render([])
    'No articles.'
    """
    articles = list(articles)
    if not articles:
        return "No articles."
    stories: dict[str, list[EnrichedArticle]] = defaultdict(list)
    unlinked = 0
    for article in articles:
        if article.story is None:
            unlinked += 1
        else:
            stories[article.story.story_id].append(article)
    claims = {c.claim_id: c for a in articles for c in a.claims}
    told = [
        sorted(members, key=lambda a: a.story.version) for members in stories.values() if len(members) > 1
    ]
    told.sort(key=lambda members: (-len(members), members[0].story.story_id))
    blocks = [_story(members, claims) for members in told]
    single = sum(1 for members in stories.values() if len(members) == 1)
    summary = [f"{len(told)} {_plural(len(told), 'story', 'stories')} told more than once, "
               f"{single} single-article {_plural(single, 'story', 'stories')}"]  # fmt: skip
    if unlinked:
        summary.append(f"{unlinked} {_plural(unlinked, 'article')} without a story (the story stage was off)")
    return "\n\n".join([*blocks, "\n".join(summary)])


def _story(members: Sequence[EnrichedArticle], claims: dict[str, Claim]) -> str:
    lines = [f"Story {members[0].story.story_id}: {len(members)} versions"]
    for article in members:
        story = article.story
        similarity = f" {story.similarity:.2f}" if story.version > 1 else ""
        title = _short(article.title or article.text, WIDTH - 40)
        lines.append(f"  v{story.version}  {article.article_id}  {story.relation}{similarity}  {title}")
    versions = {a.article_id: f"v{a.story.version}" for a in members}
    for article in members[1:]:
        lines.extend(_version(article, claims, versions))
    return "\n".join(lines)


def _version(article: EnrichedArticle, claims: dict[str, Claim], versions: dict[str, str]) -> list[str]:
    story = article.story
    changed = [c for c in article.claims if c.link and c.link.change == "CHANGED"]
    same = sum(1 for c in article.claims if c.link and c.link.change == "SAME")
    new = [c for c in article.claims if c.link is None]
    lines = [
        f"  v{story.version} against {versions.get(story.previous_article_id, '?')} "
        f"{story.previous_article_id}: {len(changed)} changed, "
        f"{len(article.dropped_claims)} dropped, {len(new)} new, {same} the same"
    ]
    by_claim: dict[str, list[Change]] = defaultdict(list)
    for change in article.changes:
        by_claim[change.claim_id].append(change)
    for claim in changed:
        lines.append(f"    ~ {_claim_text(claim.link.claim_id, claims)}")
        # An earlier claim folded into this one (two sentences became one): where a change came from.
        folded = dict.fromkeys(c.old_claim_id for c in by_claim.get(claim.claim_id, ()))
        lines.extend(f"    & {_claim_text(i, claims)}" for i in folded if i != claim.link.claim_id)
        lines.append(f"      -> {_short(claim.text, WIDTH - 3)}")
        lines.extend(f"         {_change(c)}" for c in by_claim.get(claim.claim_id, ()))
    lines.extend(f"    - {_short(d.text, WIDTH)}" for d in article.dropped_claims)
    lines.extend(f"    + {_short(c.text, WIDTH)}" for c in new)
    return lines


def _claim_text(claim_id: str, claims: dict[str, Claim]) -> str:
    """A claim's text on one line; its id when its article is not in the folder."""
    claim = claims.get(claim_id)
    return _short(claim.text, WIDTH) if claim else claim_id


def _change(change: Change) -> str:
    """``DATE: late 2023 -> late May 2024``.

    >>> _change(Change("NEGATION", "have not", None, "a:1", "b:1"))
    'NEGATION: have not -> (none)'
    """
    old, new = change.old_value or "(none)", change.new_value or "(none)"
    line = f"{change.slot}: {old} -> {new}"
    if len(line) > WIDTH:  # a speaker can be a whole noun phrase: each value gets half the room
        room = (WIDTH - len(change.slot) - 6) // 2
        line = f"{change.slot}: {_short(old, room)} -> {_short(new, room)}"
    return line


def _short(text: str, width: int) -> str:
    """One line of at most ``width`` characters.

    >>> _short("A long\\nclaim about the port of Rotterdam", 24)
    'A long claim about the…'
    """
    return textwrap.shorten(" ".join(text.split()), width, placeholder="…")


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return word if n == 1 else plural or f"{word}s"
