"""README §4 checks, on numbers built to the rules."""

from datetime import date

from gateway.identity import Keyring, LinkageKey, Located, resolve_child

KEYS = Keyring((LinkageKey("k1", b"1" * 32),), b"2" * 32)
ROTATING = Keyring((LinkageKey("k2", b"3" * 32), LinkageKey("k1", b"1" * 32)), b"2" * 32)
DAY = date(2021, 7, 21)


def test_valid_egn_derives_birth_date_and_sex() -> None:
    out = resolve_child(
        keyring=KEYS,
        incident_date=DAY,
        sex="female",
        sex_path="/s",
        egn=Located("0443056096", "/e"),
    )
    assert not out.problems and not out.warnings
    assert out.birth_date == date(2004, 3, 5) and out.sex == "female"
    assert len(out.pseudonyms) == 1 and len(out.pseudonyms[0].value) == 64
    assert out.internal_id and out.internal_id != out.pseudonyms[0].value


def test_pseudonym_is_the_contract_hmac() -> None:
    import hashlib
    import hmac

    out = resolve_child(
        keyring=KEYS,
        incident_date=DAY,
        sex="female",
        sex_path="/s",
        egn=Located("0443056096", "/e"),
    )
    expected = hmac.new(b"1" * 32, b"EGN:0443056096", hashlib.sha256).hexdigest()
    assert out.pseudonyms[0].value == expected


def test_rotation_gives_two_pseudonyms() -> None:
    out = resolve_child(
        keyring=ROTATING,
        incident_date=DAY,
        sex="female",
        sex_path="/s",
        lnch=Located("7485561332", "/l"),
        birth_date=date(2015, 4, 18),
        birth_date_path="/b",
    )
    assert [p.key_id for p in out.pseudonyms] == ["k2", "k1"]


def test_mismatches_are_warnings_and_egn_wins() -> None:
    out = resolve_child(
        keyring=KEYS,
        incident_date=DAY,
        sex="male",
        sex_path="/s",
        egn=Located("0443056096", "/e"),
        birth_date=date(2004, 3, 6),
        birth_date_path="/b",
    )
    assert [(w.code, w.path) for w in out.warnings] == [
        ("birthdate-mismatch", "/b"),
        ("sex-mismatch", "/s"),
    ]
    assert out.birth_date == date(2004, 3, 5) and out.sex == "female"


def test_unknown_sex_never_disagrees() -> None:
    out = resolve_child(
        keyring=KEYS,
        incident_date=DAY,
        sex="unknown",
        sex_path="/s",
        egn=Located("0443056096", "/e"),
    )
    assert out.warnings == []


def test_problems() -> None:
    def problems(**kw: object) -> list[tuple[str, str]]:
        base: dict[str, object] = {
            "keyring": KEYS,
            "incident_date": DAY,
            "sex": "female",
            "sex_path": "/s",
        }
        out = resolve_child(**{**base, **kw})  # type: ignore[arg-type]
        return [(p.path, p.code) for p in out.problems]

    assert problems(egn=Located("0443056097", "/e")) == [("/e", "check-digit")]
    assert problems(egn=Located("0413056096", "/e")) == [("/e", "date")]
    assert problems(egn=Located("044305609", "/e")) == [("/e", "format")]
    assert problems(lnch=Located("7485561333", "/l"), birth_date=date(2015, 1, 1)) == [
        ("/l", "check-digit")
    ]
    assert problems(egn=Located("0443056096", "/e"), lnch=Located("7485561332", "/l")) == [
        ("/l", "conflict")
    ]
    assert problems(birth_date_path="/b") == [("/b", "required")]
    assert problems(birth_date=date(2022, 1, 1), birth_date_path="/b") == [("/b", "date")]
