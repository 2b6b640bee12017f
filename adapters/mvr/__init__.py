"""The police (МВР) incident reports: SOAP 1.1 `SubmitIncidentReport` (see README.md here)."""

from adapters.mvr.adapter import MvrAdapter

__all__ = ["MvrAdapter"]
