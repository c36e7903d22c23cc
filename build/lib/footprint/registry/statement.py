"""The verification statement a reviewer records with an approval (ISO 14064-3:2019, 6.4 / 9.3).

A certificate prints it exactly as recorded, so every element is a field here, not template text:
who verified (the verification body and its ISO 14065 accreditation), to which level of assurance,
against which materiality threshold and criteria, over which scope, for whom, and the opinion.
It comes from ``footprint review decide`` options or a YAML file of the same fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

FIELDS_HELP = ("verifier, accreditation, assurance (limited|reasonable), materiality_percent, criteria, "
               "scope, intended_users, opinion; optional standard (default ISO 14064-3:2019)")
MAX_FILE_BYTES = 64 * 1024


class StatementError(ValueError):
    """A verification statement that is missing, unreadable or incomplete."""


class VerificationStatement(BaseModel):
    """What the verifier states; each field is printed on the certificate as recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    verifier: str = Field(min_length=1, max_length=300, description="the verification body")
    accreditation: str = Field(min_length=1, max_length=300,
                               description="the verification body's ISO 14065 accreditation (body and number)")
    assurance: Literal["limited", "reasonable"]
    materiality_percent: float = Field(gt=0, le=100, description="materiality threshold, % of the footprint")
    criteria: str = Field(min_length=1, max_length=1000)
    scope: str = Field(min_length=1, max_length=2000)
    intended_users: str = Field(min_length=1, max_length=1000)
    opinion: str = Field(min_length=1, max_length=4000)
    standard: str = Field("ISO 14064-3:2019", min_length=1, max_length=200)


def _problems(e: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, err['loc'])) or '(file)'}: {err['msg']}" for err in e.errors())


def from_fields(fields: dict[str, object], origin: str = "options") -> VerificationStatement:
    """A statement from its fields; ``StatementError`` names each missing or invalid one."""
    given = {k: v for k, v in fields.items() if v is not None}
    try:
        return VerificationStatement.model_validate(given)
    except ValidationError as e:
        raise StatementError(f"verification statement ({origin}) incomplete or invalid: {_problems(e)} "
                             f"(fields: {FIELDS_HELP})") from None


def load(path: Path, overrides: dict[str, object] | None = None) -> VerificationStatement:
    """Read a YAML statement file; options given on the command line replace its fields."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise StatementError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB; not a statement file")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise StatementError(f"{path}: cannot read the statement file ({e.strerror})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise StatementError(f"{path}: not valid UTF-8 YAML ({e})") from None
    if not isinstance(data, dict):
        raise StatementError(f"{path}: expected a mapping of statement fields ({FIELDS_HELP})")
    return from_fields({**data, **{k: v for k, v in (overrides or {}).items() if v is not None}}, str(path))
