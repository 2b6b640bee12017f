"""The prosecution's XML dialect: `p:ProceedingNotification` fields read with `p:` paths.

Paths follow README §9, rooted at the body element, with a 1-based position on every repeatable
element (`Qualification`, `Victim`, `AccusedRelation`); the reading itself is `adapters.xml_fields`.
"""

from __future__ import annotations

from adapters.xml_fields import Dialect

NAMESPACE = "urn:bg:prb:pretrial:v2"
PREFIX = "p"
ROOT = f"/{PREFIX}:ProceedingNotification"
DIALECT = Dialect(NAMESPACE, PREFIX, "prosecution's")
