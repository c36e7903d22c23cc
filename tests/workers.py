"""Functions run in child processes by the concurrency tests (importable by name for spawn)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def issue_many(url: str, p12: str, out_dir: str, count: int, start_at: float) -> list[str]:
    """Open the registry (first open races the migration too) and issue ``count`` certificates."""
    from certdocs import document

    from footprint.certificates import issuing, keys
    from footprint.certificates.signing import DocumentSigner
    from footprint.registry.records import Registry

    signer = DocumentSigner(keys.load_pkcs12(Path(p12), None))
    time.sleep(max(0.0, start_at - time.time()))
    numbers = []
    with Registry(url) as registry:
        for i in range(count):
            issued = issuing.issue(registry, signer, "demo-park", Path(out_dir),
                                   lambda r, i=i: document(r, product_id=f"p{os.getpid()}-{i}"))
            numbers.append(issued.record.number)
    return numbers
