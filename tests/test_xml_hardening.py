"""The hardened XML parser every SOAP transport uses: no DTD, no entities, no network, bounded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lxml import etree

from gateway.errors import NotParseable
from gateway.transports import xml
from gateway.transports.xml import MAX_DEPTH, parse_xml

PASSWD = Path("/etc/passwd")


def refused(raw: bytes) -> NotParseable:
    with pytest.raises(NotParseable) as caught:
        parse_xml(raw)
    (problem,) = caught.value.problems
    assert problem.code == "format"
    return caught.value


def laughs(levels: int) -> bytes:
    entities = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, levels + 1)
    ]
    return f'<?xml version="1.0"?><!DOCTYPE r [{"".join(entities)}]><r>&l{levels};</r>'.encode()


def test_xxe_is_refused_and_leaks_nothing() -> None:
    raw = b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    error = refused(raw)
    assert "DTD" in error.message
    if PASSWD.exists():
        assert "root:" not in repr(error) and "root:" not in str(error.problems)


def test_the_parser_itself_never_resolves_an_external_entity() -> None:
    # Defence in depth: even if the DOCTYPE check were gone, nothing is read from the disk.
    raw = b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    root = etree.fromstring(raw, xml._per_thread.parser)
    assert "root:" not in etree.tostring(root).decode()


def test_billion_laughs_is_refused_at_once() -> None:
    started = time.monotonic()
    refused(laughs(9))
    assert time.monotonic() - started < 1.0


def test_parameter_entities_are_refused() -> None:
    refused(b'<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><r/>')


def test_external_dtd_is_refused(tmp_path: Path) -> None:
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY secret "from the disk">')
    refused(f'<!DOCTYPE r SYSTEM "{dtd.as_uri()}"><r>&secret;</r>'.encode())
    refused(f'<!DOCTYPE r SYSTEM "{dtd.as_uri()}"><r/>'.encode())
    refused(b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd"><r/>')


def test_any_doctype_is_refused() -> None:
    assert "DTD" in refused(b"<!DOCTYPE r><r/>").message
    refused(b'<!DOCTYPE r PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" ""><r/>')


def test_nesting_is_bounded() -> None:
    def nested(depth: int) -> bytes:
        return b"<a>" * depth + b"</a>" * depth

    assert parse_xml(nested(MAX_DEPTH)).tag == "a"
    assert str(MAX_DEPTH) in refused(nested(MAX_DEPTH + 1)).message
    refused(nested(100_000))


def test_windows_1251_is_read_from_the_declaration() -> None:
    raw = '<?xml version="1.0" encoding="windows-1251"?><r>Мария Щерева</r>'.encode("cp1251")
    assert parse_xml(raw).text == "Мария Щерева"


def test_byte_order_mark_decides_the_encoding() -> None:
    assert parse_xml("<r>Ж</r>".encode("utf-16")).text == "Ж"
    assert parse_xml(b"\xef\xbb\xbf<r>\xd0\x96</r>").text == "Ж"


@pytest.mark.parametrize(
    "raw",
    [
        b'<?xml version="1.0" encoding="utf-8"?><r>\xff\xfe</r>',
        "<r>Мария</r>".encode("cp1251"),  # no declaration: UTF-8, which these bytes are not
        b'<?xml version="1.0" encoding="x-no-such-charset"?><r/>',
    ],
)
def test_undecodable_input_is_refused(raw: bytes) -> None:
    refused(raw)


def test_malformed_input_is_located_without_quoting_it() -> None:
    error = refused(b"<r>\n<Egn>0443056096</Lnch></r>")
    assert "line 2" in error.message
    assert "0443056096" not in error.message
    refused(b"")
    refused(b"not xml at all")
    refused(b"<r>&undefined;</r>")


def test_comments_and_processing_instructions_are_dropped() -> None:
    root = parse_xml(b"<r><!-- a note --><?app do-something?><a>1</a></r>")
    assert [child.tag for child in root] == ["a"]
