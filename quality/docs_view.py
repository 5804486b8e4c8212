"""GX's Data Docs page view with compiled templates kept between pages, runs and processes.

GX makes a new Jinja environment for every ``build_data_docs`` call, and so compiles its ~40
page templates again for every validation page (most of the time a page takes). Jinja's
bytecode cache keeps the compiled templates under the home (keyed by the template source's
checksum, so a GX upgrade compiles anew); the pages are the same. GX imports this module by
name from the site configuration in :func:`quality.gx.context`.
"""

from __future__ import annotations

from typing import Any

from great_expectations.render.view import DefaultJinjaPageView
from jinja2 import FileSystemBytecodeCache

from warehouse import paths

_caches: dict[str, FileSystemBytecodeCache] = {}


def template_cache() -> FileSystemBytecodeCache:
    """The bytecode cache of this home (made on first use)."""
    folder = paths.docs_template_cache_dir()
    key = str(folder)
    if key not in _caches:
        folder.mkdir(parents=True, exist_ok=True)
        _caches[key] = FileSystemBytecodeCache(key)
    return _caches[key]


class CachedTemplatesPageView(DefaultJinjaPageView):
    """:class:`DefaultJinjaPageView` whose environment reads compiled templates from the
    home's bytecode cache."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = template_cache()
