"""One data directory for the whole test session, set before bw2data is imported."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="footprint-test-home-"))
os.environ["FOOTPRINT_HOME"] = str(_HOME)

from footprint.engine import home  # noqa: E402

home.activate()

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEMO = ROOT / "inventories" / "demo-park"


@pytest.fixture(scope="session")
def project():
    """The Brightway project with biosphere3, methods and open-factors, set up once."""
    from footprint.engine.background import ensure_project

    ensure_project()
    return _HOME


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_HOME, ignore_errors=True)


def pytest_terminal_summary(terminalreporter):
    """Where the browser tests' screenshots are (tests/browser.py), to look at after the run."""
    import sys

    browser = sys.modules.get("browser")
    if browser is not None and browser.SHOTS:
        terminalreporter.write_line(f"browser screenshots: {len(browser.SHOTS)} in {browser.SCREENSHOTS}")
