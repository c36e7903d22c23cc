"""Parks uploaded through the web app, and the certification requests made of them.

An upload is kept as raw bytes in ``<home>/web/incoming/<token>/`` and handed to a ``park-upload``
job: unpack (a workbook as it is, a zip of the CSV folder through :mod:`footprint.archives`),
``load_park``, check that the park names one of the uploader's enterprises, compute every product
with its Monte Carlo interval, and only then store it as a submission:
``<home>/web/submissions/<id>/`` holding ``upload.xlsx|zip`` (the bytes hashed), ``park/`` (the park
folder ``load_park`` reads, ``Submission.folder``) and ``results/results.json``. Submissions and
requests are read and made through :mod:`footprint.registry.requests` (audited, replayed). An invalid
upload leaves nothing: its job's result lists the located problems, the incoming folder is removed.
Storing a submission and requesting certification are audit entries.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
from pathlib import Path

from footprint import archives
from footprint.park.errors import MAX_LISTED, Problem
from footprint.registry import audit, requests
from footprint.registry.records import Registry, RegistryError
from footprint.registry.requests import Submission
from footprint.registry.schema import Submission as SubmissionRow
from footprint.registry.users import User
from footprint.service.web import jobs

ITERATIONS = 1000  # Monte Carlo runs behind each product's 95 % interval
REQUEST_OPEN = ("requested", "reviewing", "approved")
MAX_NAME = 200  # characters of an uploaded file's name kept for display


def results_dir(submission: Submission) -> Path:
    """Where the upload job wrote the submission's results (beside its park folder)."""
    return Path(submission.folder).parent / "results"


def get(registry: Registry, submission_id: int) -> Submission | None:
    try:
        return requests.submission(registry, submission_id)
    except RegistryError:
        return None


def visible(registry: Registry, user: User) -> list[Submission]:
    """The submissions naming one of the user's enterprises, newest first."""
    return [r for r in requests.submissions(registry) if user.sees_enterprise(r.enterprise_ids)]


def of_submission(registry: Registry, submission_id: int) -> list[requests.Request]:
    """The certification requests made of one submission, newest first."""
    return [r for r in requests.listing(registry) if r.submission_id == submission_id]


def request_certification(registry: Registry, submission: Submission, user: User, products: list[str],
                          allowed: set[str]) -> requests.Request:
    """A new ``requested`` certification request; ``allowed``: the products this user may ask for."""
    products = sorted(set(products))
    if not products:
        raise RegistryError("choose at least one product")
    foreign = [p for p in products if p not in allowed]
    if foreign:
        raise RegistryError(f"not products of your enterprises in this park: {', '.join(foreign)}")
    busy = {p for r in of_submission(registry, submission.id) if r.status in REQUEST_OPEN for p in r.products}
    again = [p for p in products if p in busy]
    if again:
        raise RegistryError(f"already requested and not yet decided: {', '.join(again)}")
    return requests.create(registry, submission.id, products, user.id)


# ---- uploads -----------------------------------------------------------------------------------


def web_dir(home: Path) -> Path:
    return Path(home) / "web"


def accept(registry: Registry, user: User, file_name: str, data: bytes, limit: int) -> int:
    """Keep an upload's bytes for a ``park-upload`` job and queue it; returns the job id (nothing is read yet).
    ``limit``: the largest zip accepted (the server's upload limit)."""
    incoming = web_dir(registry.home) / "incoming" / secrets.token_hex(16)
    incoming.mkdir(mode=0o700, parents=True)
    (incoming / "upload").write_bytes(data)
    name = "".join(ch for ch in file_name if ch.isprintable())[:MAX_NAME] or "upload"
    return jobs.submit(registry, "park-upload", {"incoming": incoming.name, "file_name": name,
                                                 "uploaded_by": user.id, "limit": limit}, user.id, "upload")


def _kind(file_name: str, data: bytes) -> str | None:
    """xlsx or zip (of a CSV folder), from the name and the bytes; None for anything else."""
    if not data.startswith(b"PK\x03\x04"):
        return None
    return "xlsx" if file_name.lower().endswith(".xlsx") else "zip"


def _unpack(upload: Path, park_dir: Path, file_name: str, limit: int) -> list[Problem]:
    """The upload as a park folder in ``park_dir``; problems when it cannot be one."""
    from footprint.park.loading import FILE_NAMES

    data = upload.read_bytes()
    kind = _kind(file_name, data)
    if kind is None:
        return [Problem(file_name, None, None, None, "expected a park workbook (.xlsx) or a zip of the park folder "
                                                     "(park.yaml and the CSV tables)")]
    if kind == "xlsx":
        shutil.copyfile(upload, park_dir / "park.xlsx")
        return []
    limits = archives.Limits(archive_bytes=limit, entries=100, entry_bytes=128 * archives.MiB,
                             total_bytes=256 * archives.MiB)
    try:
        files = archives.read(upload, None, "park archive", limits)
    except archives.ArchiveError as e:
        return [Problem(file_name, None, None, e.entry, e.reason)]
    folders = {name.rsplit("/", 1)[0] if "/" in name else "" for name in files
               if name.rsplit("/", 1)[-1] in ("park.yaml", "park.xlsx")}
    if len(folders) != 1:
        return [Problem(file_name, None, None, None, "expected one park folder (park.yaml with the CSV tables, or "
                                                     "park.xlsx) at the top of the zip or in one folder of it"
                        + (f"; found parks in {', '.join(sorted(f or '/' for f in folders))}" if folders else ""))]
    prefix = next(iter(folders))
    prefix = f"{prefix}/" if prefix else ""
    chosen = {name.removeprefix(prefix): body for name, body in files.items()
              if name.startswith(prefix) and name.removeprefix(prefix) in FILE_NAMES}
    archives.extract(chosen, park_dir)
    return []


@jobs.handler("park-upload")
def _upload(job: jobs.RunningJob) -> dict:
    """Validate, compute and (only when all is well) store an upload as a submission."""
    import hashlib

    from footprint.engine.calculation import compute_park
    from footprint.park.errors import ParkDataError
    from footprint.park.loading import load_park

    p = job.payload
    root = web_dir(job.home) / "incoming"
    incoming = root / str(p["incoming"])
    if incoming.parent != root or not (incoming / "upload").is_file():
        raise RuntimeError("the upload is no longer on the server; upload the file again")
    try:
        with job.registry.read() as s:
            from footprint.registry import users

            user = users.get(s, int(p["uploaded_by"]))
        if user is None or not user.active:
            raise RuntimeError("the uploading user no longer exists or was disabled")
        data = (incoming / "upload").read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        park_dir = incoming / "park"
        park_dir.mkdir(mode=0o700)
        job.progress("Reading the upload", 0.05)
        problems = _unpack(incoming / "upload", park_dir, p["file_name"], int(p["limit"]))
        count = len(problems)
        park = results = None
        if not problems:
            job.progress("Checking every row and column", 0.15)
            try:
                park = load_park(park_dir)
            except ParkDataError as e:
                problems, count = e.problems, e.count
        if park is not None:
            enterprises = sorted({f.enterprise_id for f in park.facilities if f.enterprise_id})
            if not user.sees_enterprise(enterprises):
                where = "park.xlsx[facilities]" if (park_dir / "park.xlsx").exists() else "facilities.csv"
                problems = [Problem(where, None, "enterprise_id", ", ".join(enterprises) or None,
                                    f"a facility of one of your enterprises ({', '.join(user.enterprises)}); "
                                    "you may upload only parks that include your enterprise")]
                count = 1
        if not problems:
            job.progress("Linking to the background and computing every product (Monte Carlo, "
                         f"{ITERATIONS} runs)", 0.3)
            try:
                results = compute_park(park, step=lambda text: job.progress(text, 0.5), iterations=ITERATIONS,
                                       seed=int(digest[:8], 16))
            except ParkDataError as e:
                problems, count = e.problems, e.count
        if problems:
            return {"file_name": p["file_name"], "count": count, "link": f"/parks/upload/{job.id}",
                    "problems": [{"file": q.file, "row": q.row, "column": q.column,
                                  "value": None if q.value is None else str(q.value)[:200], "expected": q.expected}
                                 for q in problems[:MAX_LISTED]]}
        job.progress("Storing the park and its results", 0.95)
        (incoming / "results").mkdir(mode=0o700)
        (incoming / "results" / "results.json").write_text(results.model_dump_json(indent=2), encoding="utf-8")
        kind = _kind(p["file_name"], data)
        os.replace(incoming / "upload", incoming / f"upload.{kind}")
        stored = _store(job.registry, incoming, park.park.id, enterprises, p["file_name"], digest, user)
        return {"submission_id": stored, "link": f"/parks/{stored}"}
    finally:
        shutil.rmtree(incoming, ignore_errors=True)


def _store(registry: Registry, incoming: Path, park_id: str, enterprises: list[str], file_name: str, digest: str,
           user: User) -> int:
    """The submission row and its folder, in one transaction (a failed move leaves no row)."""
    target_root = web_dir(registry.home) / "submissions"
    target_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    with registry.write() as s:
        row = SubmissionRow(park_id=park_id, enterprise_ids=json.dumps(enterprises), folder="", file_name=file_name,
                            content_sha256=digest, uploaded_by=user.id, created_at=dt.datetime.now(dt.UTC))
        s.add(row)
        s.flush()
        target = target_root / str(row.id)
        row.folder = str(target / "park")
        audit.append(s, "submission-add", f"submission:{row.id}",
                     {"park": park_id, "enterprises": enterprises, "file_name": file_name, "sha256": digest,
                      "uploaded_by": user.email})
        os.rename(incoming, target)
        return row.id
