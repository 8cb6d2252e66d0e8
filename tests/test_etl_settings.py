"""Every loader setting is documented in .env.example."""

from __future__ import annotations

from etl.settings import EtlSettings
from tests.etl_support import ROOT


def test_env_example_documents_every_etl_setting() -> None:
    documented = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in EtlSettings.model_fields:
        assert f"SAFEGRID_ETL_{name.upper()}" in documented, name
