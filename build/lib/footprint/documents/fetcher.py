"""WeasyPrint's only way to the file system: files under ``templates/``, nothing else (DESIGN §5).

A product named ``<img src="file:///etc/passwd">`` is escaped by Jinja anyway; this is the second
wall, for anything a template or stylesheet references: no network, no ``data:``, no path
outside the template folder (``..`` and symlinks are resolved before the check).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint.urls import URLFetcher, URLFetcherResponse


class TemplateFetcher(URLFetcher):
    """Serves ``file:`` URLs inside ``root`` from memory; refuses everything else."""

    def __init__(self, root: Path):
        super().__init__(allowed_protocols={"file"}, fail_on_errors=False)
        self.root = root.resolve()
        self._cache: dict[Path, bytes] = {}
        self.refused: list[str] = []

    def resolve(self, url: str) -> Path:
        """The file a URL names, if it is one the documents may use; else ``PermissionError``."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise PermissionError(f"only template files may be fetched, not {url[:80]!r}")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise PermissionError(f"{url[:80]!r} is not a file under {self.root}")
        return path

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        try:
            path = self.resolve(url)
        except PermissionError:
            self.refused.append(url)
            raise
        if path not in self._cache:
            self._cache[path] = path.read_bytes()
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(path.as_uri(), body=self._cache[path], headers={"Content-Type": mime})
