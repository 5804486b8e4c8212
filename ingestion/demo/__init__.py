"""Synthetic demo data: case-management and DATEV exports of an invented organisation, with
the ground truth the tests and the demo compare the warehouse against (see ``README.md``)."""

from ingestion.demo.generator import generate

__all__ = ["generate"]
