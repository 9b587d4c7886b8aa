"""NLP stage: sentences and named entities with spaCy, then claims.

- :mod:`.model`: the spaCy model, loaded once per process;
- :mod:`.annotate`: one ``Doc`` -> sentences, entities and claims;
- :mod:`.workers`: the worker processes that run spaCy on every core;
- :mod:`.stage`: the Beam stage, :class:`ExtractEntitiesAndClaims`.
"""

from pipelines.nlp.annotate import Annotations, annotate, entities_of, extract, sentences_of
from pipelines.nlp.model import DEFAULT_MODEL, load_model, model_name, model_name_of
from pipelines.nlp.stage import AnnotateArticlesFn, ExtractEntitiesAndClaims

__all__ = [
    "DEFAULT_MODEL",
    "AnnotateArticlesFn",
    "Annotations",
    "ExtractEntitiesAndClaims",
    "annotate",
    "entities_of",
    "extract",
    "load_model",
    "model_name",
    "model_name_of",
    "sentences_of",
]
