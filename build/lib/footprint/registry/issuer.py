"""The certification body that issues certificates, read from a YAML file.

Issuer facts are configuration, not template text: the same templates serve any certification
body. A missing or invalid file is an error naming the file and field, before anything renders.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from footprint.registry.schemes import MAX_PACT_YEARS, SCHEMES, Scheme


class IssuerConfigError(ValueError):
    """The issuer configuration file is missing or invalid."""


class Issuer(BaseModel):
    """A certification body as printed on its certificates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["footprint-issuer/1"]
    name: str = Field(min_length=1, description="name in English")
    name_zh: str = Field(min_length=1, description="name in Chinese")
    accreditation_id: str = Field(min_length=1, description="e.g. CNAS registration number")
    phone: str = Field(min_length=1, description="status enquiries")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    verification_url: str | None = Field(None, description="status check address; the QR code links to it")
    scheme: Literal["cnca-2025", "pact"] = Field(
        "pact", description="certification scheme: validity, surveillance and the rule printed (registry/schemes.py)")
    validity_years: int = Field(MAX_PACT_YEARS, ge=1, le=MAX_PACT_YEARS,
                                description="scheme pact only: years of validity after the reference period")
    domain: str | None = Field(None, pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
                               description="the body's internet domain, for PACT ids urn:pact:<domain>:...; "
                                           "default: the domain of email")
    number_prefix: str = Field("PCF", pattern=r"^[A-Z0-9]+(-[A-Z0-9]+)*$")
    demo: bool = Field(False, description="a demonstration issuer: every document says DEMO")

    @model_validator(mode="after")
    def _validity_of_scheme(self) -> Issuer:
        if self.scheme != "pact" and "validity_years" in self.model_fields_set:
            raise ValueError(f"validity_years applies to scheme pact only; scheme {self.scheme} fixes its validity")
        return self

    @property
    def rules(self) -> Scheme:
        """The scheme's rules: validity, surveillance, the rule's name and label."""
        return SCHEMES[self.scheme]

    @property
    def pact_domain(self) -> str:
        """The domain that qualifies this body's PACT ids (``urn:pact:<domain>:...``)."""
        return self.domain or self.email.rsplit("@", 1)[1].lower()

    @field_validator("verification_url")
    @classmethod
    def _https(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"https://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~/-]*)?", v):
            raise ValueError("must be an https:// address without query or fragment")
        return v


def default_path() -> Path:
    """``$FOOTPRINT_ISSUER``, else ``issuer.yaml`` in the data directory (see home.py)."""
    from footprint.engine import home

    env = os.environ.get("FOOTPRINT_ISSUER")
    return Path(env).expanduser() if env else home.resolve() / "issuer.yaml"


def load_issuer(path: str | Path | None = None) -> Issuer:
    """Read and validate an issuer file; raises ``IssuerConfigError`` naming the file and fields."""
    path = Path(path) if path else default_path()
    if not path.is_file():
        raise IssuerConfigError(f"no issuer configuration at {path}: pass --issuer FILE or set FOOTPRINT_ISSUER "
                                f"(an example: inventories/demo-issuer.yaml)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise IssuerConfigError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(data, dict):
        raise IssuerConfigError(f"{path}: expected a mapping of issuer fields")
    try:
        return Issuer.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or '(file)'}: {err['msg']}" for err in e.errors())
        raise IssuerConfigError(f"{path}: invalid issuer configuration: {problems}") from e
