"""The composition root: the only package that imports archive, scrapers and index.

Capture work is composed once, in :mod:`web.work` (Flask-free; the commands, the admin
and the workers call it); jobs go to workers through :mod:`web.jobs`; the web front end
is built by :func:`web.app.create_app`. Importing this package imports none of them, so
commands that serve no pages never load Flask.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # ``from web import create_app`` (the factory's documented import) loads Flask only
    # when the factory is asked for.
    if name == "create_app":
        from web.app import create_app

        return create_app
    raise AttributeError(f"module 'web' has no attribute {name!r}")
