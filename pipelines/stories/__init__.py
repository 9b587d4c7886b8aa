"""Story linking: which story each article belongs to, and how its claims changed.

A stage after the claims (``stage.py``): each article's profile (``profile.py``) is
matched against earlier articles of the window (``match.py``), found through the
story index (``index.py``; SQLite or Redis in ``stores.py``), and its claims against
the story's earlier claims (``claims.py``). ``report.py`` renders the stories of an
output folder for people.
"""

from pipelines.stories.stage import LinkStories, check_state

__all__ = ["LinkStories", "check_state"]
