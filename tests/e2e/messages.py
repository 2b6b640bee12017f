"""Test messages built from the project's samples, with fresh ids so tests never collide."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
MVR_SAMPLES = ROOT / "adapters" / "mvr" / "samples"
OZD_SAMPLES = ROOT / "adapters" / "ozd" / "samples"
NS = "urn:bg:mvr:child-incident:v1"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def mvr_envelope(
    sample: str = "mvr-incident.xml",
    *,
    registration: str | None = None,
    report_type: str | None = None,
    report_id: str | None = None,
) -> etree._ElementTree:
    tree = etree.parse(str(MVR_SAMPLES / sample))
    body = tree.find(f".//{{{NS}}}IncidentReport")
    assert body is not None
    fields = {
        "ReportId": report_id or str(uuid.uuid4()),
        "RegistrationNumber": registration or f"ЗМ-{uuid.uuid4().hex[:8]}/2021",
        "ReportType": report_type,
    }
    for name, value in fields.items():
        if value is not None:
            element = body.find(f"{{{NS}}}{name}")
            assert element is not None
            element.text = value
    return tree


def mvr_bytes(tree: etree._ElementTree) -> bytes:
    return etree.tostring(tree, xml_declaration=True, encoding="utf-8")


def set_text(tree: etree._ElementTree, path: str, value: str) -> etree._ElementTree:
    """`path` like `Victim[1]/Egn` below the body element."""
    tree = copy.deepcopy(tree)
    body = tree.find(f".//{{{NS}}}IncidentReport")
    assert body is not None
    steps = "/".join(
        f"m:{step}" if "[" not in step else f"m:{step.split('[')[0]}[{step.split('[')[1]}"
        for step in path.split("/")
    )
    found = body.xpath(steps, namespaces={"m": NS})
    assert isinstance(found, list) and found, path
    target = found[0]
    assert isinstance(target, etree._Element)
    target.text = value
    return tree


def ozd_signal(sample: str = "ozd-signal.json", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((OZD_SAMPLES / sample).read_text("utf-8"))
    body["eventId"] = str(uuid.uuid4())
    body["signalNumber"] = f"ОЗД-ТЕСТ-{uuid.uuid4().hex[:8]}"
    body.update(changes)
    return body


def submit(client: Any, tree: etree._ElementTree) -> Any:
    """SubmitIncidentReport through zeep's typed interface, as the police system calls it."""
    body = tree.find(f".//{{{NS}}}IncidentReport")
    element = client.get_element(f"{{{NS}}}IncidentReport")
    value = element.type.parse_xmlelement(body, client.wsdl.types)
    return client.service.SubmitIncidentReport(**{k: value[k] for k in value})


def soap_headers(operation: str = "SubmitIncidentReport") -> dict[str, str]:
    return {"content-type": "text/xml; charset=utf-8", "soapaction": f'"{NS}/{operation}"'}
