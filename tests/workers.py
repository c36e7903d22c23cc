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


def issue_and_die(url: str, out_dir: str, step: str, how: str) -> None:
    """Issue one certificate and send this process ``how`` (KILL or TERM) right after ``step``."""
    import signal

    from certdocs import document

    from footprint.certificates import issuing, keys, signing
    from footprint.cli.main import _terminated
    from footprint.engine import home
    from footprint.registry.records import Registry

    signal.signal(signal.SIGTERM, _terminated)  # as `footprint certify` does

    def after(fn):  # noqa: ANN001, ANN202
        def wrapped(*a, **k):  # noqa: ANN002, ANN003, ANN202
            result = fn(*a, **k)
            os.kill(os.getpid(), getattr(signal, f"SIG{how}"))
            time.sleep(5)  # a signal handler runs at the next bytecode; SIGKILL never returns
            return result
        return wrapped

    registry = Registry(url)
    signer = signing.DocumentSigner(keys.default_key(home.resolve()))
    render = after(document) if step == "rendered" else document
    if step == "reserved":
        registry.reserve = after(registry.reserve)
    elif step == "signed":
        signer.sign = after(signer.sign)
    elif step == "written":
        issuing._write_pending = after(issuing._write_pending)
    elif step == "recorded":
        registry.record = after(registry.record)
    elif step == "published":
        issuing._publish = after(issuing._publish)
    issuing.issue(registry, signer, "demo-park", Path(out_dir), render)
