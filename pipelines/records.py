"""The records that flow through the pipeline, as typed values, and their Avro form.

    Message --parse--> Article --nlp, claims--> EnrichedArticle
       \\                 \\
        DeadLetter         DeadLetter

A stage that rejects its input emits a :class:`DeadLetter` in its place, and every
later stage passes dead letters on untouched: articles and dead letters travel in
one stream, so that one writer sees every outcome of a partition's offsets.

:func:`to_avro` is the one place that turns a record into the dict its schema in
``schemas/*.avsc`` expects; :func:`from_avro` is its inverse. Nothing here imports
a stage.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from typing import Any, Literal

import pipelines

SpeakerType = Literal["PERSON", "ORGANIZATION", "ANONYMOUS", "NONE"]
#: What ties a source to its content: a reporting verb (said), a belief, intention or
#: stance verb (fears, plans), "according to", a noun (a statement), a "Name:" line.
CueKind = Literal["REPORTING", "STANCE", "ACCORDING_TO", "NOUN", "COLON"]
Stage = Literal["source", "parse", "nlp"]
#: Why a message became a dead letter: stable values for downstream filters.
ErrorType = Literal["too_large", "empty", "binary", "bad_json", "no_text", "parser_error", "nlp_error"]
#: How an article stands to its story: the first report, the same text again (up to
#: formatting), or a re-told version.
Relation = Literal["NEW", "DUPLICATE", "VERSION"]
#: Whether a linked claim reads the same as its earlier form.
ClaimChange = Literal["SAME", "CHANGED"]
#: What changed between a claim and its earlier form.
Slot = Literal["DATE", "TIME", "NUMBER", "PERSON", "ORGANIZATION", "PLACE", "SPEAKER", "AGENT", "NEGATION"]

ARTICLE = "enriched_article"
DEAD_LETTER = "dead_letter"
Kind = Literal["enriched_article", "dead_letter"]


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a message came from: a Kafka record or a file (the fields that do not apply are None)."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    timestamp_ms: int | None = None
    path: str | None = None
    headers: dict[str, bytes] = dataclasses.field(default_factory=dict)  # the Kafka record's


@dataclasses.dataclass(frozen=True)
class Message:
    """One input message, before parsing: the raw bytes and where they came from.

    >>> Message(b"Headline\\n\\nBody.", topic="articles", partition=0, offset=7).source.offset
    7
    """

    payload: bytes
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    timestamp_ms: int | None = None
    path: str | None = None
    lease: int | None = None  # the reader's lease on the partition when it read this (not written)
    headers: tuple[tuple[str, bytes], ...] = ()  # the Kafka record's, in their order

    @property
    def source(self) -> Source:
        """Where it came from; of headers repeating a key, the last one counts.

        >>> Message(b"", headers=(("lang", b"en"), ("lang", b"fr"))).source.headers
        {'lang': b'fr'}
        """
        return Source(
            self.topic,
            self.partition,
            self.offset,
            self.key,
            self.timestamp_ms,
            self.path,
            dict(self.headers),
        )

    @property
    def name(self) -> str | None:
        """The file name this message stands for: its path's last part, else its key.

        >>> Message(b"", path="in/000_96e8961fbe36ce22.txt").name
        '000_96e8961fbe36ce22.txt'
        """
        if self.path:
            return self.path.replace("\\", "/").rsplit("/", 1)[-1]
        return self.key


@dataclasses.dataclass(frozen=True)
class Envelope:
    """What a JSON envelope says about its article besides its text (all optional).

    ``metadata`` keeps the envelope's other keys, each value as a string.
    """

    url: str | None = None
    published_at_ms: int | None = None
    outlet: str | None = None
    language: str | None = None
    authors: tuple[str, ...] = ()
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        """The fields by name, as :class:`EnrichedArticle` takes them."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclasses.dataclass(frozen=True)
class Article:
    """A parsed article: ``text`` is normalized; ``paragraphs`` are (start, end) into it."""

    article_id: str
    title: str | None
    text: str
    paragraphs: tuple[tuple[int, int], ...]
    encoding: str
    message: Message
    envelope: Envelope = Envelope()


@dataclasses.dataclass(frozen=True)
class Sentence:
    index: int
    paragraph: int
    start: int
    end: int
    text: str


@dataclasses.dataclass(frozen=True)
class Entity:
    text: str
    label: str  # spaCy's OntoNotes label: PERSON, ORG, GPE, DATE, ...
    start: int
    end: int
    sentence: int  # the sentence that holds the entity's start


@dataclasses.dataclass(frozen=True)
class TextSpan:
    """Words of the article text and where they are: ``text == article.text[start:end]``."""

    text: str
    start: int
    end: int


@dataclasses.dataclass(frozen=True)
class Offsets:
    start: int
    end: int


@dataclasses.dataclass(frozen=True)
class Attribution:
    """Who said, thought or intends what: "In a letter, Warren called for ..." ->
    source "Warren", cue "called for", content the rest.

    ``source`` is the mention as written (a pronoun stays "he"); ``speaker`` is
    whom it names (the resolved name or description).
    """

    source: TextSpan | None
    speaker: str | None
    speaker_type: SpeakerType
    cue: TextSpan
    content: Offsets
    cue_kind: CueKind = "REPORTING"

    @classmethod
    def of(cls, fields: dict[str, Any]) -> Attribution:
        """From its Avro dict.

        >>> Attribution.of({"source": {"text": "he", "start": 0, "end": 2}, "speaker": "Ann Lee",
        ...     "speaker_type": "PERSON", "cue": {"text": "said", "start": 3, "end": 7},
        ...     "content": {"start": 8, "end": 20}}).source.text
        'he'
        """
        source = fields.get("source")
        return cls(
            source=TextSpan(**source) if source else None,
            speaker=fields["speaker"],
            speaker_type=fields["speaker_type"],
            cue=TextSpan(**fields["cue"]),
            content=Offsets(**fields["content"]),
            cue_kind=fields.get("cue_kind", "REPORTING"),
        )


@dataclasses.dataclass(frozen=True)
class ClaimLink:
    """The earlier form of a claim: the most similar claim of the story's earlier versions."""

    article_id: str
    claim_id: str
    similarity: float
    change: ClaimChange


@dataclasses.dataclass(frozen=True)
class Claim:
    claim_id: str  # <article_id>:<sentence index>
    sentence: int
    text: str
    start: int
    end: int
    score: float  # check-worthiness, 0..1
    speaker: str | None = None
    speaker_type: SpeakerType = "NONE"
    cue: str | None = None
    quoted: bool = False
    #: Every attribution on the sentence; ``speaker``/``speaker_type``/``cue`` repeat the main one.
    attributions: tuple[Attribution, ...] = ()
    #: Its earlier form in the story; None when the claim is new (or stories are off).
    link: ClaimLink | None = None
    #: score >= 0.5, the model's decision threshold (last: positional records read as before)
    check_worthy: bool = False
    #: (agent, negation, affirmation) from the parse (``pipelines.claims.agents``), for the
    #: story stage; not written: a claim read back from a file has none.
    syntax: tuple[str | None, str | None, str | None] | None = dataclasses.field(
        default=None, compare=False, metadata={"avro": False}
    )

    @classmethod
    def of(cls, fields: dict[str, Any]) -> Claim:
        """From its Avro dict (one written before attributions or links existed has none)."""
        found = tuple(Attribution.of(a) for a in fields.get("attributions", ()))
        link = fields.get("link")
        rest = {k: v for k, v in fields.items() if k not in ("attributions", "link", "syntax")}
        parsed = fields.get("syntax")
        return cls(
            **rest,
            attributions=found,
            link=ClaimLink(**link) if link else None,
            syntax=tuple(parsed) if parsed is not None else None,
        )


@dataclasses.dataclass(frozen=True)
class StoryLink:
    """Which story an article belongs to, and which earlier version it follows."""

    story_id: str
    version: int  # 1 for the story's first article
    previous_article_id: str | None = None
    similarity: float = 0.0  # to the previous version, 0..1
    relation: Relation = "NEW"


@dataclasses.dataclass(frozen=True)
class DroppedClaim:
    """A claim of the previous version that no claim of this one continues."""

    article_id: str
    claim_id: str
    text: str


@dataclasses.dataclass(frozen=True)
class Change:
    """One typed difference between a claim and its earlier form: "late 2023" -> "late May 2024"."""

    slot: Slot
    old_value: str | None
    new_value: str | None
    old_claim_id: str
    claim_id: str


@dataclasses.dataclass(frozen=True)
class EnrichedArticle:
    """One article with its sentences, named entities and claims."""

    article_id: str
    source: Source
    title: str | None
    text: str
    encoding: str
    sentences: tuple[Sentence, ...]
    entities: tuple[Entity, ...]
    claims: tuple[Claim, ...]
    model: str
    processed_at: datetime.datetime = dataclasses.field(default_factory=now_utc)
    pipeline_version: str = pipelines.__version__
    lease: int | None = dataclasses.field(default=None, metadata={"avro": False})
    # From a JSON envelope (see Envelope); a plain-text message has none of them.
    url: str | None = None
    published_at_ms: int | None = None
    outlet: str | None = None
    language: str | None = None
    authors: tuple[str, ...] = ()
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    # From the story stage (None and empty when it is off).
    story: StoryLink | None = None
    dropped_claims: tuple[DroppedClaim, ...] = ()
    changes: tuple[Change, ...] = ()
    #: What the story stage needs of the article alone (``pipelines.stories.features``), from
    #: the NLP workers when stories are on; not written.
    story_features: Any = dataclasses.field(default=None, compare=False, repr=False, metadata={"avro": False})

    kind = ARTICLE

    @property
    def event_time_ms(self) -> int | None:
        """When the article happened: its published time, else its Kafka record's time."""
        return self.published_at_ms if self.published_at_ms is not None else self.source.timestamp_ms


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """One message that could not be processed, kept whole so that it can be replayed.

    >>> DeadLetter.of(Message(b""), "parse", "empty", "message is empty").error_type
    'empty'
    """

    source: Source
    payload: bytes
    stage: Stage
    error_type: ErrorType
    error: str
    failed_at: datetime.datetime = dataclasses.field(default_factory=now_utc)
    pipeline_version: str = pipelines.__version__
    lease: int | None = dataclasses.field(default=None, metadata={"avro": False})

    kind = DEAD_LETTER

    @classmethod
    def of(cls, message: Message, stage: Stage, error_type: ErrorType, error: str) -> DeadLetter:
        return cls(message.source, message.payload, stage, error_type, error, lease=message.lease)


#: What reaches the sinks.
Output = EnrichedArticle | DeadLetter


# --- Avro -----------------------------------------------------------------------------


def to_avro(record: Output) -> dict[str, Any]:
    """The dict ``record``'s schema expects (``schemas/*.avsc``).

    >>> to_avro(DeadLetter(Source(topic="t"), b"x", "parse", "binary", "not text"))["source"]["topic"]
    't'
    """
    return _plain(record)


#: Values that are already what Avro takes: written as they are, without a call.
_LEAVES = frozenset({str, int, float, bool, bytes, type(None), datetime.datetime})


def _plain(value: Any) -> Any:
    # dataclasses.asdict, without its deep copies of bytes and datetimes, and fast: the
    # writer turns ~800 values an article into Avro's dicts on the pipeline's one thread.
    names = _avro_fields(type(value))
    if names is not None:
        record = {}
        for name in names:
            field = getattr(value, name)
            record[name] = field if type(field) in _LEAVES else _plain(field)
        return record
    if isinstance(value, tuple | list):
        return [v if type(v) in _LEAVES else _plain(v) for v in value]
    if isinstance(value, dict):
        return {k: v if type(v) in _LEAVES else _plain(v) for k, v in value.items()}
    return value


@functools.cache
def _avro_fields(kind: type) -> tuple[str, ...] | None:
    """The fields a record type writes (None: not a record type).

    >>> _avro_fields(Source)[:2], _avro_fields(str)
    (('topic', 'partition'), None)
    """
    if not dataclasses.is_dataclass(kind):
        return None
    return tuple(f.name for f in dataclasses.fields(kind) if f.metadata.get("avro", True))


def from_avro(kind: Kind, record: dict[str, Any]) -> Output:
    """The typed record of an Avro dict read back with ``kind``'s schema."""
    source = Source(**{**record["source"], "headers": record["source"].get("headers") or {}})
    if kind == DEAD_LETTER:
        fields = {k: record[k] for k in ("payload", "stage", "error_type", "error", "failed_at")}
        return DeadLetter(source=source, pipeline_version=record.get("pipeline_version", ""), **fields)
    return EnrichedArticle(
        article_id=record["article_id"],
        source=source,
        title=record["title"],
        text=record["text"],
        encoding=record.get("encoding", "utf-8"),
        sentences=tuple(Sentence(**s) for s in record["sentences"]),
        entities=tuple(Entity(**e) for e in record["entities"]),
        claims=tuple(Claim.of(c) for c in record["claims"]),
        model=record["model"],
        processed_at=record["processed_at"],
        pipeline_version=record["pipeline_version"],
        story=StoryLink(**record["story"]) if record.get("story") else None,
        dropped_claims=tuple(DroppedClaim(**d) for d in record.get("dropped_claims") or ()),
        changes=tuple(Change(**c) for c in record.get("changes") or ()),
        **Envelope(
            url=record.get("url"),
            published_at_ms=record.get("published_at_ms"),
            outlet=record.get("outlet"),
            language=record.get("language"),
            authors=tuple(record.get("authors") or ()),
            metadata=dict(record.get("metadata") or {}),
        ).fields(),
    )
