"""The pseudonym key is part of the data's identity: pseudonyms of two keys never match, so a
load with another key would count every re-delivered client twice. The warehouse records the
key's fingerprint and refuses another key; changing keys is a command, not an accident."""

from __future__ import annotations

import secrets

import duckdb
import pytest

from tests.conftest import PipelineRun, copy_home, run_nightly, use_home


def query(db, sql: str):  # type: ignore[no-untyped-def]
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def failure_texts(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join(
        str(e.step_failure_data.error) for e in result.all_events if e.is_step_failure
    )


def test_a_new_key_file_is_refused_naming_both_fingerprints(small_first_run: PipelineRun) -> None:
    from ingestion.pseudonymise import key_fingerprint

    home = copy_home(small_first_run.home, "key-changed")
    key_file = home / "secrets" / "pseudonym.key"
    old = key_fingerprint(key_file.read_text().strip().encode())
    new_key = secrets.token_hex(32)
    key_file.write_text(new_key + "\n")
    new = key_fingerprint(new_key.encode())
    published = query(home / "published" / "marts.duckdb", "select * from fct_cases order by all")
    raw_clients = query(home / "warehouse" / "build.duckdb",
                        "select count(*) from raw_case_management.clients")
    # A re-delivered export: with another key its clients would become new clients.
    sb = home / "inbox" / "case_management" / "swm" / "SB"
    (sb / "klienten_erneut.csv").write_bytes((sb / "klienten.csv").read_bytes() + b"\r\n")

    result = run_nightly(home)

    assert not result.success
    message = failure_texts(result)
    assert "KeyMismatchError" in message and old in message and new in message
    assert new_key not in message
    # Nothing was loaded with the wrong key, nothing was published.
    assert query(home / "warehouse" / "build.duckdb",
                 "select count(*) from raw_case_management.clients") == raw_clients
    assert query(home / "published" / "marts.duckdb",
                 "select * from fct_cases order by all") == published
    retried = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retried == []  # a configuration error, not retried


def test_the_fingerprint_is_recorded_not_the_key(small_first_run: PipelineRun) -> None:
    from ingestion.pseudonymise import key_fingerprint

    home = small_first_run.home
    key = (home / "secrets" / "pseudonym.key").read_text().strip()
    rows = query(home / "warehouse" / "build.duckdb",
                 "select fingerprint from datenwerk_meta.pseudonym_key")
    assert rows == [(key_fingerprint(key.encode()),)]
    assert key not in rows[0][0] and key[:16] != rows[0][0]


def test_a_key_in_the_environment_and_a_key_file_are_two_sources(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from ingestion import pseudonymise

    use_home(tmp_path)
    pseudonymise.ensure_key_file()
    monkeypatch.setenv("DATENWERK_PSEUDONYM_KEY", secrets.token_hex(32))
    with pytest.raises(pseudonymise.KeyMismatchError, match="DATENWERK_PSEUDONYM_KEY") as exc:
        pseudonymise.current_key()
    assert str(pseudonymise.key_path()) in str(exc.value)
    # Either source alone is fine.
    pseudonymise.key_path().unlink()
    assert pseudonymise.current_key() == pseudonymise.settings.pseudonym_key_from_env().encode()


def test_rotate_key_reloads_the_inbox_under_the_new_key(small_first_run: PipelineRun) -> None:
    from ingestion.pseudonymise import key_fingerprint
    from orchestration.cli import main

    home = copy_home(small_first_run.home, "key-rotated")
    build = home / "warehouse" / "build.duckdb"
    marts = home / "published" / "marts.duckdb"
    before = query(marts, "select count(distinct client_id), count(*) from fct_cases")
    old_ids = {r[0] for r in query(marts, "select client_id from fct_cases")}
    old = key_fingerprint((home / "secrets" / "pseudonym.key").read_text().strip().encode())

    use_home(home)
    assert main(["rotate-key"]) == 2  # asks first: the old key's data is dropped
    assert main(["rotate-key", "--yes"]) == 0
    new = key_fingerprint((home / "secrets" / "pseudonym.key").read_text().strip().encode())
    assert new != old and (home / "secrets" / f"pseudonym.key.retired-{old}").exists()

    result = run_nightly(home)

    assert result.success, failure_texts(result)
    assert query(marts, "select count(distinct client_id), count(*) from fct_cases") == before
    assert not old_ids & {r[0] for r in query(marts, "select client_id from fct_cases")}
    assert query(build, "select fingerprint from datenwerk_meta.pseudonym_key "
                        "order by recorded_at desc limit 1") == [(new,)]


def test_an_interrupted_rotation_is_completed_by_the_next(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A rotation killed after the warehouse switched to the new key, before the key file was
    swapped: the next `rotate-key` finishes it instead of making a third key."""
    from ingestion import pseudonymise

    use_home(tmp_path)
    key_file = pseudonymise.ensure_key_file()
    old = pseudonymise.check_key_matches_warehouse()
    new_key = secrets.token_hex(32)
    (tmp_path / "secrets" / "pseudonym.key.new").write_text(new_key + "\n")
    new = pseudonymise.key_fingerprint(new_key.encode())
    with duckdb.connect(str(tmp_path / "warehouse" / "build.duckdb")) as con:
        con.execute(
            "insert into datenwerk_meta.pseudonym_key values (?, now(), 'rotate-key')", [new]
        )
    with pytest.raises(pseudonymise.KeyMismatchError, match=f"{new}.*{old}"):
        pseudonymise.check_key_matches_warehouse()

    assert pseudonymise.rotate_key()[:2] == (old, new)

    assert key_file.read_text().strip() == new_key
    assert pseudonymise.check_key_matches_warehouse() == new
