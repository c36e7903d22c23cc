"""Long work off the request path: jobs persisted in the registry database, run by a job worker process.

A page submits a job (:func:`submit`) and answers at once with a link to ``/jobs/{id}``, which polls
``/jobs/{id}.json`` every second and goes to the job's result link when it is done, or shows why it
failed. The job row is the only state, so a reload, another browser or another server process sees
the same job. Each server process has a supervisor (an asyncio task) that starts one worker process
when jobs are queued; the worker takes the oldest queued job (under the registry's write lock, so
two workers never take the same one), runs its handler, and holds a lease on it that a heartbeat
renews. A job whose worker died (its lease ran out, or its process exited) is marked failed, never
left running.

A kind of job is a function registered with ``@jobs.handler("kind")`` in a module imported by the
server; the worker imports the same modules. The function gets a :class:`RunningJob` (payload,
registry, ``progress``) and returns a JSON-able dict (kept as the result; its ``link`` key, if any,
replaces the link given at submission). An exception fails the job with its message.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import json
import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import func, select, update

from footprint.registry.records import Registry
from footprint.registry.schema import Job
from footprint.registry.users import User
from footprint.service.web.sessions import PageError, render, require

log = logging.getLogger("footprint.service.jobs")
router = APIRouter()
STATUSES = ("queued", "running", "done", "failed")
LEASE = dt.timedelta(seconds=60)
HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 0.5
MAX_ERROR_CHARS = 4000

Handler = Callable[["RunningJob"], dict | None]
_HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of ``kind``."""
    def register(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        return fn
    return register


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(t: dt.datetime | None) -> dt.datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


@dataclass(frozen=True)
class JobView:
    """A job as pages show it."""

    id: int
    kind: str
    owner_user_id: int
    subject: str
    status: str
    step: str
    fraction: float
    result: dict | None
    error: str | None
    link: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None

    def json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "subject": self.subject, "status": self.status, "step": self.step,
                "fraction": self.fraction, "error": self.error, "link": self.link}


def _view(j: Job) -> JobView:
    return JobView(j.id, j.kind, j.owner_user_id, j.subject, j.status, j.step, j.fraction,
                   json.loads(j.result) if j.result else None, j.error, j.link, _utc(j.created_at),  # type: ignore[arg-type]
                   _utc(j.finished_at))


def submit(registry: Registry, kind: str, payload: dict, owner_user_id: int, subject: str,
           link: str | None = None) -> int:
    """Queue a job; returns its id at once (a worker process runs it). ``link``: where its page goes when done."""
    if kind not in _HANDLERS:
        raise ValueError(f"no job handler for {kind!r}")
    with registry.write() as s:
        row = Job(kind=kind, payload=json.dumps(payload), owner_user_id=owner_user_id, subject=subject[:128],
                  status="queued", step="", fraction=0.0, link=link, created_at=_now())
        s.add(row)
        s.flush()
        return row.id


def get(registry: Registry, job_id: int) -> JobView | None:
    with registry.read() as s:
        row = s.get(Job, job_id)
        return _view(row) if row is not None else None


def latest(registry: Registry, subject: str, kind: str | None = None) -> JobView | None:
    """The newest job about ``subject`` (of ``kind``), e.g. to show a submission's last computation."""
    with registry.read() as s:
        q = select(Job).where(Job.subject == subject)
        if kind:
            q = q.where(Job.kind == kind)
        row = s.execute(q.order_by(Job.id.desc()).limit(1)).scalar_one_or_none()
        return _view(row) if row is not None else None


# ---- the worker process ----------------------------------------------------------------------


@dataclass
class RunningJob:
    """What a handler gets: the job's data, the registry, and a way to report progress."""

    id: int
    kind: str
    payload: dict
    owner_user_id: int
    subject: str
    registry: Registry
    home: Path

    def progress(self, step: str, fraction: float) -> None:
        """Shown on the job's page: what is being done and how far along (0–1)."""
        with self.registry.write() as s:
            s.execute(update(Job).where(Job.id == self.id).values(
                step=step[:500], fraction=min(max(float(fraction), 0.0), 1.0), lease_until=_now() + LEASE))


def fail_abandoned(registry: Registry, worker: str | None = None, reason: str | None = None) -> int:
    """Mark failed the running jobs of ``worker`` (a process that exited), or every job whose lease ran out."""
    now = _now()
    with registry.write() as s:
        q = update(Job).where(Job.status == "running")
        q = q.where(Job.worker == worker) if worker else q.where(Job.lease_until < now)
        return s.execute(q.values(status="failed", finished_at=now, error=reason or (
            "interrupted: the server process running this job stopped; start it again"))).rowcount


def _claim(registry: Registry, worker: str) -> Job | None:
    with registry.write() as s:
        row = s.execute(select(Job).where(Job.status == "queued").order_by(Job.id).limit(1)).scalar_one_or_none()
        if row is None:
            return None
        now = _now()
        row.status, row.worker, row.started_at, row.lease_until = "running", worker, now, now + LEASE
        row.step = "started"
        s.flush()
        return row


def _finish(registry: Registry, job_id: int, **values: Any) -> None:
    with registry.write() as s:
        s.execute(update(Job).where(Job.id == job_id, Job.status == "running")
                  .values(finished_at=_now(), **values))


def run_one(registry: Registry, worker: str) -> bool:
    """Take and run the oldest queued job; False when there was none."""
    row = _claim(registry, worker)
    if row is None:
        return False
    job = RunningJob(row.id, row.kind, json.loads(row.payload), row.owner_user_id, row.subject, registry,
                     registry.home)
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(Exception), registry.write() as s:
                s.execute(update(Job).where(Job.id == job.id).values(lease_until=_now() + LEASE))

    beat = threading.Thread(target=heartbeat, name=f"job-{job.id}-heartbeat", daemon=True)
    beat.start()
    try:
        fn = _HANDLERS.get(job.kind)
        if fn is None:
            raise RuntimeError(f"this server has no handler for jobs of kind {job.kind!r}")
        result = fn(job) or {}
        _finish(registry, job.id, status="done", fraction=1.0, step="done", result=json.dumps(result),
                **({"link": result["link"]} if isinstance(result.get("link"), str) else {}))
    except Exception as e:  # noqa: BLE001 - any failure of a handler is the job's failure, shown to its owner
        log.error("job %s (%s) failed:\n%s", job.id, job.kind, traceback.format_exc())
        _finish(registry, job.id, status="failed", error=(str(e) or type(e).__name__)[:MAX_ERROR_CHARS])
    finally:
        stop.set()
        beat.join()
    return True


def worker_main(home: str, url: str | None, modules: list[str], worker: str, stop: Any) -> None:
    """Entry point of a job worker process: import the handlers, then run queued jobs until ``stop``."""
    from footprint.engine import home as data_home

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops this worker
    data_home.activate(Path(home))
    for name in modules:
        importlib.import_module(name)
    parent = os.getppid()
    registry = Registry.open(Path(home), url)
    try:
        while not stop.is_set() and os.getppid() == parent:
            if not run_one(registry, worker):
                stop.wait(POLL_SECONDS)
    finally:
        registry.close()


class Supervisor:
    """In each server process: starts a job worker process when jobs are queued, and fails abandoned jobs."""

    def __init__(self, home: Path, url: str | None, registry: Registry):
        self.home, self.url, self.registry = home, url, registry
        self._ctx = multiprocessing.get_context("spawn")
        self._stop = self._ctx.Event()
        self._process: Any = None
        self._worker = ""

    def _counts(self) -> tuple[int, int]:
        """(queued jobs, running jobs whose lease ran out), read without the write lock."""
        with self.registry.read() as s:
            queued = s.execute(select(func.count()).select_from(Job).where(Job.status == "queued")).scalar_one()
            expired = s.execute(select(func.count()).select_from(Job).where(
                Job.status == "running", Job.lease_until < _now())).scalar_one()
        return queued, expired

    def check(self) -> None:
        """One round: fail jobs of a dead worker or with an expired lease; start a worker if jobs wait."""
        if self._process is not None and not self._process.is_alive():
            fail_abandoned(self.registry, self._worker, f"the job worker process stopped (exit code "
                                                        f"{self._process.exitcode}) while running this job")
            self._process = None
        queued, expired = self._counts()
        if expired:
            fail_abandoned(self.registry)
        if self._process is None and queued:
            self._worker = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
            modules = sorted({fn.__module__ for fn in _HANDLERS.values()})
            self._process = self._ctx.Process(target=worker_main, name="footprint-job-worker", daemon=True,
                                              args=(str(self.home), self.url, modules, self._worker, self._stop))
            self._process.start()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.check)
            except Exception:  # noqa: BLE001 - a database hiccup must not end the supervisor
                log.exception("job supervisor")
            await asyncio.sleep(1.0)

    def close(self) -> None:
        """Stop the worker (a running job is marked failed: the server stopped)."""
        if self._process is None:
            return
        self._stop.set()
        self._process.join(5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        with contextlib.suppress(Exception):
            fail_abandoned(self.registry, self._worker, "interrupted: the server stopped while running this job")
        self._process = None


# ---- pages -----------------------------------------------------------------------------------


def _visible(request: Request, job_id: int, user: User) -> JobView:
    job = get(request.app.state.service.registry, job_id)
    if job is None or (job.owner_user_id != user.id and user.role != "admin"):
        raise PageError(404, "error.not_found")
    return job


@router.get("/jobs/{job_id}.json")
def job_json(request: Request, job_id: int, user: User = require()) -> JSONResponse:
    return JSONResponse(_visible(request, job_id, user).json(), headers={"Cache-Control": "no-store"})


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: int, user: User = require()) -> HTMLResponse:
    return render(request, "web/job.html.j2", job=_visible(request, job_id, user))


@router.get("/web/static/jobs.js")
def job_script() -> Response:
    from footprint.service.web.sessions import TEMPLATES

    return Response((TEMPLATES / "web" / "jobs.js").read_bytes(), media_type="text/javascript",
                    headers={"Cache-Control": "max-age=300"})


def wait(registry: Registry, job_id: int, timeout: float = 60.0) -> JobView:
    """Poll until a job is done or failed (for tests and scripts; pages never wait)."""
    deadline = time.monotonic() + timeout
    while True:
        job = get(registry, job_id)
        if job is None or job.status in ("done", "failed") or time.monotonic() > deadline:
            return job  # type: ignore[return-value]
        time.sleep(0.2)
