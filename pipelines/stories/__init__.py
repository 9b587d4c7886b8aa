"""Story linking: which story each article belongs to, and how its claims changed.

A stage after the claims (see ``stage.py``): each article's profile is matched
against earlier articles of the window (``match.py``, candidates from the index in
``index.py``), its claims against the story's earlier claims (``claims.py``).
"""
