"""One article's token attributes as plain lists: what the attribution rules look at for every word.

The rules ask every sentence of an article the same few questions about every word
(is it a verb? is it "according"? which word is the root?), and each ``doc[i]`` or
``for token in span`` builds a new spaCy ``Token`` object to answer it: thousands per
article, most of the claims' CPU time. :class:`Words` reads the attributes they need
once per ``Doc`` (one ``Doc.to_array`` call), so a rule can pass over the words it has
no use for and build a ``Token`` only for those it looks at closely. Attributes are
spaCy's ids (``words.pos[i] == words.id("VERB")``); a word's lower-case form is looked
up only when asked for. The doc's text is kept too: ``Doc.text`` joins every token's
text each time it is read.

The lists are kept in ``Doc.user_data`` (plain lists, never spans), so the rules of
every sentence share them.

>>> from spacy.vocab import Vocab
>>> doc = Doc(Vocab(), words=["Ann", "said", "so"], heads=[1, 1, 1], deps=["nsubj", "ROOT", "advmod"])
>>> words = Words.of(doc)
>>> words.head, words.first_root(0, 3), words.dep[0] == words.id("nsubj")
([1, 1, 1], 1, True)
>>> words.text(doc[1:3])
'said so'
"""

from __future__ import annotations

import dataclasses

from spacy.attrs import DEP, HEAD, IDX, IS_ALPHA, LOWER, POS, TAG
from spacy.tokens import Doc, Span

_KEY = "claimstream_words"
_ATTRS = (POS, DEP, TAG, HEAD, IS_ALPHA, IDX, LOWER)


@dataclasses.dataclass(frozen=True, slots=True)
class Words:
    """Per token of ``doc``: its part of speech, dependency, tag (spaCy ids), head index, and more."""

    doc: Doc
    content: str  # ``doc.text``, which spaCy joins from the tokens each time it is asked
    pos: list[int]
    dep: list[int]
    tag: list[int]
    head: list[int]  # the index of the token's head (itself for a root)
    alpha: list[int]  # 1 where the token is alphabetic
    idx: list[int]  # the token's character offset in ``doc.text``
    lower_id: list[int]

    @classmethod
    def of(cls, doc: Doc) -> Words:
        """The words of ``doc``, read once per doc."""
        columns = doc.user_data.get(_KEY)
        if columns is None:
            columns = doc.user_data[_KEY] = _columns(doc)
        return cls(doc, *columns)

    def id(self, name: str) -> int:
        """spaCy's id of a label or word: what ``pos``, ``dep`` and ``tag`` hold."""
        return self.doc.vocab.strings[name]

    def lower(self, i: int) -> str:
        """``doc[i].lower_``, without building the token."""
        return self.doc.vocab.strings[self.lower_id[i]]

    def text(self, span: Span) -> str:
        """``span.text``, sliced from the doc's text rather than joined from its tokens."""
        return self.content[span.start_char : span.end_char]

    def first_root(self, start: int, end: int) -> int | None:
        """The first token of ``doc[start:end]`` that is a root ("ROOT", or its own head), if any."""
        root = self.id("ROOT")
        dep, head = self.dep, self.head
        return next((i for i in range(start, end) if dep[i] == root or head[i] == i), None)


def _columns(doc: Doc) -> tuple:
    """The text and lists :class:`Words` holds after its doc: one ``to_array`` for all of them."""
    array = doc.to_array(list(_ATTRS))
    if not len(doc):
        return doc.text, *([] for _ in _ATTRS)
    pos, dep, tag, relative, alpha, idx, lower = (array[:, k] for k in range(len(_ATTRS)))
    # HEAD is an offset from the token, stored unsigned: a head before it wraps around.
    head = [i + offset for i, offset in enumerate(relative.astype("int64").tolist())]
    columns = pos.tolist(), dep.tolist(), tag.tolist(), head, alpha.tolist(), idx.tolist(), lower.tolist()
    return doc.text, *columns
