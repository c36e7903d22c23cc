"""Browser test harness: ``footprint serve`` in its own data directory, driven by Debian's Chromium.

Playwright for Python drives ``/usr/bin/chromium`` (``apt-get install chromium``; ``make test``
installs it): no browser is downloaded. The server is the real ``footprint serve`` process on a
free loopback port, with a temporary ``FOOTPRINT_HOME`` of its own, the demo issuer and the
data directory's demo signing key. Screenshots go to ``tests/screenshots/`` (git-ignored; or
``$FOOTPRINT_SCREENSHOTS``) and the folder is printed at the end of the run (conftest.py).

Fixtures (import them into a test module): ``browser`` (one Chromium per module),
``web_server`` (one server per module), ``page`` (a fresh context per test: no cookies carried).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ISSUER = ROOT / "inventories" / "demo-issuer.yaml"
FONTS = ROOT / "templates" / "fonts"
SCREENSHOTS = Path(os.environ.get("FOOTPRINT_SCREENSHOTS") or ROOT / "tests" / "screenshots")
SHOTS: list[Path] = []  # taken in this run, listed by conftest's terminal summary
START_SECONDS = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``footprint serve`` in a subprocess over its own data directory, stopped by its own pid."""

    def __init__(self, home: Path, env: dict[str, str] | None = None):
        self.home, self.port = home, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = home / "serve.log"
        environment = {k: v for k, v in os.environ.items() if k not in ("FOOTPRINT_DATABASE_URL", "BRIGHTWAY2_DIR")}
        environment.update({"FOOTPRINT_HOME": str(home), "FOOTPRINT_ISSUER": str(ISSUER), **(env or {})})
        self.proc = subprocess.Popen([sys.executable, "-m", "footprint.cli.main", "serve", "--port", str(self.port)],
                                     env=environment, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
                                     cwd=home)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.base + "/verify", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        raise AssertionError(f"serve did not answer within {START_SECONDS} s: {self.log.read_text()[-3000:]}")

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _fontconfig(folder: Path) -> Path:
    """A fontconfig file adding the project's CJK font (templates/fonts) to the system's, so Chinese
    pages render in screenshots on a machine without CJK fonts."""
    conf = folder / "fonts.conf"
    conf.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
                    '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
                    f"  <dir>{FONTS}</dir>\n  <cachedir>{folder / 'cache'}</cachedir>\n</fontconfig>\n")
    return conf


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator:
    """Debian's Chromium, headless, launched once per test module: while Playwright's sync API runs, the main
    thread has a running event loop, so in-process ``asyncio.run`` (pyHanko's signing) fails until it stops."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (Makefile DEBS)")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (or make install)")
    from playwright.sync_api import sync_playwright

    conf = _fontconfig(tmp_path_factory.mktemp("fontconfig"))
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
                                     env={**os.environ, "FONTCONFIG_FILE": str(conf)})
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory) -> Iterator[Server]:
    """A server over a fresh data directory (its own registry, Brightway project and demo keys)."""
    server = Server(tmp_path_factory.mktemp("web-home"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser) -> Iterator:
    """A page in a new browser context: no cookies or storage from other tests."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", accept_downloads=True)
    context.set_default_timeout(20_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def shoot(page, name: str) -> Path:  # noqa: ANN001 - playwright Page
    """Save a full-page screenshot as ``NN-name.png`` (numbered in the order taken) and return its path."""
    if not SHOTS and SCREENSHOTS.is_dir():
        for old in SCREENSHOTS.glob("[0-9][0-9]-*.png"):  # the folder shows one run, not a mix of runs
            old.unlink()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{len(SHOTS) + 1:02d}-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SHOTS.append(path)
    return path
