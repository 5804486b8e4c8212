from __future__ import annotations

import pyarrow as pa
import pytest

from ingestion import pseudonymise


def test_same_identifier_same_pseudonym_other_key_other_pseudonym() -> None:
    key_a, key_b = b"a" * 32, b"b" * 32
    values = pa.array(["K-1", "K-2", "K-1", None, " K-2 "])
    out = pseudonymise.pseudonymise_array(values, key_a).to_pylist()
    assert out[0] == out[2] and out[1] == out[4] and out[0] != out[1]
    assert out[3] is None
    assert len(out[0]) == pseudonymise.PSEUDONYM_HEX_CHARS
    assert "K-1" not in "".join(v for v in out if v)
    assert pseudonymise.pseudonymise_array(values, key_b).to_pylist()[0] != out[0]
    assert out[0] == pseudonymise.pseudonym("K-1", key_a)


def test_missing_key_is_a_clear_terminal_error(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    monkeypatch.delenv("DATENWERK_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("DATENWERK_KEY_FILE", raising=False)
    with pytest.raises(pseudonymise.MissingKeyError, match="init-key"):
        pseudonymise.current_key()
    path = pseudonymise.ensure_key_file()
    assert path == tmp_path / "secrets" / "pseudonym.key"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert len(pseudonymise.current_key()) >= 32


def test_a_federation_keys_each_organisation_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    key = b"k" * 32
    monkeypatch.delenv("DATENWERK_FEDERATION", raising=False)
    single = pseudonymise.key_fingerprint(key)
    assert pseudonymise.organisation_key("swm", key) == key  # one organisation: unchanged
    monkeypatch.setenv("DATENWERK_FEDERATION", "1")
    swm, dwb = (pseudonymise.organisation_key(org, key) for org in ("swm", "dwb"))
    assert swm != dwb and key not in (swm, dwb)
    assert pseudonymise.organisation_key("swm", key) == swm  # stable across loads
    assert pseudonymise.organisation_key("swm", b"n" * 32) != swm  # follows a rotated key
    assert pseudonymise.pseudonym("K-000001", swm) != pseudonymise.pseudonym("K-000001", dwb)
    # Switching an installation between the two is a change of key the warehouse refuses.
    assert pseudonymise.key_fingerprint(key) != single
    monkeypatch.setenv("DATENWERK_FEDERATION", "maybe")
    with pytest.raises(ValueError, match="DATENWERK_FEDERATION"):
        pseudonymise.organisation_key("swm", key)


def test_rotating_a_federation_s_key_re_keys_every_member(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    monkeypatch.setenv("DATENWERK_FEDERATION", "1")
    for name in ("DATENWERK_PSEUDONYM_KEY", "DATENWERK_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    pseudonymise.ensure_key_file()
    old = pseudonymise.check_key_matches_warehouse()  # recorded in a real build database
    before = {org: pseudonymise.organisation_key(org) for org in ("swm", "dwb")}
    assert pseudonymise.rotate_key()[0] == old
    after = {org: pseudonymise.organisation_key(org) for org in ("swm", "dwb")}
    assert pseudonymise.check_key_matches_warehouse() != old  # the new key is the warehouse's
    assert before["swm"] != after["swm"] and before["dwb"] != after["dwb"]
    assert after["swm"] != after["dwb"]


@pytest.mark.parametrize(
    "key",
    [b"s" * 32, b"b" * 64, b"L" * 100],  # shorter than, equal to and longer than SHA-256's block
    ids=["short_key", "block_sized_key", "long_key_hashed_first"],
)
def test_sql_pseudonym_is_the_python_pseudonym(key: bytes) -> None:
    """The loader computes pseudonyms in DuckDB: every value, padded with any whitespace Python
    trims, in any script, empty or missing, gets exactly the pseudonym Python gives it."""
    import duckdb

    values = ["K-1", " K-1", "K-1\t", "\u3000K-1\u00a0", "Müller-Lüdenscheidt", "O'Brien", "é",
              "\u200bK-1", "", "\t", None, "x" * 300, "9004711|10.01.2024"]
    with duckdb.connect() as con:
        pseudonymise.use_key_in_sql(con, key)
        got = con.execute(
            f"select {pseudonymise.pseudonym_sql('v')} from unnest(?) with ordinality as t(v, i) "
            "order by i", [values]).fetchall()
    assert [g[0] for g in got] == pseudonymise.pseudonymise_array(pa.array(values), key).to_pylist()
    assert got[0][0] == got[1][0] == got[2][0] == got[3][0] != got[7][0]


def test_sql_pseudonym_statements_never_hold_the_key() -> None:
    """The key reaches DuckDB as a session variable: the SQL text, which can appear in error
    messages and logs, holds neither the key nor its pads."""
    key = b"geheimer-schluessel-fuer-pseudonyme!"
    sql = pseudonymise.pseudonym_sql("v")
    assert key.decode() not in sql
    assert "\\x" not in sql and "getvariable('pseudonym_inner_pad')" in sql
