"""``datenwerk sql``: a read-only SQL shell on the published marts.

Statements come from ``-c`` text, a pipe or a terminal; a statement ends with ``;``. Dot commands
(``.tables``, ``.schema``, ``.publication``, ``.quit``) stand on a line of their own, the same in
all three. The file is opened read-only with extension loading switched off and the
configuration locked, so the shell never downloads or loads an extension.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import duckdb

from warehouse import paths

# INSTALL and LOAD would fetch or run an extension: the shell promises never to download one.
REFUSED_STATEMENTS = {"LOAD": "extensions are not installed or loaded in `datenwerk sql` "
                              "(it never downloads one); use a DuckDB of your own for that"}

SQL_HELP = """\
Statements end with ';'. The file is opened read-only.
  .tables            list the published tables
  .schema TABLE      columns of a table
  .publication       which generation this is (run id, time, row counts, checks)
  .quit              leave (or Ctrl-D)"""

QUIT = (".quit", ".exit", ".q")


def _tables(con: duckdb.DuckDBPyConnection, _: str) -> None:
    con.sql("select table_name from information_schema.tables "
            "where table_schema = 'main' order by 1").show(max_rows=1000)


def _schema(con: duckdb.DuckDBPyConnection, arg: str) -> None:
    if not arg.strip():
        print(SQL_HELP)
        return
    con.sql("select column_name, data_type from information_schema.columns "
            "where table_name = ? order by ordinal_position",
            params=[arg.strip().strip(";")]).show(max_rows=1000)


def _publication(con: duckdb.DuckDBPyConnection, _: str) -> None:
    con.sql("select * from _publication").show(max_rows=1000)
    con.sql("select passed, severity, count(*) as checks from _checks "
            "group by all order by all").show()


DOT_COMMANDS: dict[str, Callable[[duckdb.DuckDBPyConnection, str], None]] = {
    ".tables": _tables,
    ".schema": _schema,
    ".publication": _publication,
}


def published_file(generation: str | None = None) -> Path:
    """The current publication, or the file of a kept generation."""
    from warehouse.publish import generation_manifest

    if generation:
        return paths.generations_dir() / generation_manifest(generation)["file"]
    return paths.published_db()


def open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """Read-only; and no extension is fetched from the internet behind the analyst's back."""
    return duckdb.connect(str(path), read_only=True, config={
        "autoinstall_known_extensions": False, "autoload_known_extensions": False,
        "allow_community_extensions": False, "lock_configuration": True})


@dataclass
class Shell:
    """Runs statements and dot commands on one read-only connection, counting errors."""

    con: duckdb.DuckDBPyConnection
    max_rows: int
    errors: int = 0
    buffer: list[str] = field(default_factory=list)

    def dot(self, line: str) -> bool:
        """Run a dot command; False for .quit."""
        command, _, arg = line.strip().partition(" ")
        if command in QUIT:
            return False
        DOT_COMMANDS.get(command, lambda _con, _arg: print(SQL_HELP))(self.con, arg)
        return True

    def execute(self, text: str) -> None:
        """Every statement of ``text``; a refused or failing one is counted and reported."""
        if not text.strip():
            return
        try:
            for statement in duckdb.extract_statements(text):
                self._statement(statement)
        except duckdb.Error as exc:
            self.errors += 1
            print(f"Error: {exc}", file=sys.stderr)

    def _statement(self, statement: duckdb.Statement) -> None:
        refused = REFUSED_STATEMENTS.get(statement.type.name)
        if refused:
            self.errors += 1
            print(f"Refused: {statement.query.strip().rstrip(';')}: {refused}", file=sys.stderr)
            return
        relation = self.con.sql(statement.query)
        if relation is not None:
            relation.show(max_rows=self.max_rows)

    def feed(self, line: str, *, statement_per_line: bool = False) -> bool:
        """One input line: a dot command (on a line of its own) or part of a statement, run
        when it ends with ';' (``-c`` text runs what stands before each dot command and at its
        end). False once .quit was given."""
        if line.strip().startswith(".") and (statement_per_line or not self.buffer):
            self.flush()
            return self.dot(line)
        self.buffer.append(line)
        if not statement_per_line and "\n".join(self.buffer).strip().endswith(";"):
            self.flush()
        return True

    def flush(self) -> None:
        """Run what is buffered."""
        text, self.buffer = "\n".join(self.buffer), []
        self.execute(text)


def _terminal_lines(shell: Shell) -> Iterator[str]:
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401 - line editing and history for input()
    while True:
        try:
            yield input("       ...> " if shell.buffer else "datenwerk> ")
        except EOFError:
            print()
            return
        except KeyboardInterrupt:
            print()
            shell.buffer = []  # Ctrl-C drops what was typed so far


def _piped_lines(stream: TextIO) -> Iterator[str]:
    while line := stream.readline():
        yield line.rstrip("\n")


def run(generation: str | None, command_text: str | None, max_rows: int,
        stdin: TextIO | None = None) -> int:
    """``datenwerk sql``: 2 when nothing can be opened; 1 after a failed or refused statement
    of ``-c`` text or piped input; 0 otherwise (a terminal session always ends with 0)."""
    stdin = stdin or sys.stdin
    path = published_file(generation)
    if not path.is_file():
        print(f"Nothing published yet: {path} does not exist (run: datenwerk run).",
              file=sys.stderr)
        return 2
    try:
        con = open_read_only(path)
    except duckdb.IOException as exc:
        # Someone holds marts.duckdb read-write (DuckDB then lets nobody else open it): the
        # same publication is in its kept generation file, which nobody opens read-write.
        from warehouse.publish import current_generation_file

        kept = None if generation else current_generation_file()
        if kept is None or not kept.is_file():
            print(f"Cannot open {path}: {exc}", file=sys.stderr)
            return 2
        print(f"{path} is held read-write by another process; reading the same publication "
              f"from its kept file {kept}.", file=sys.stderr)
        path, con = kept, open_read_only(kept)
    except duckdb.Error as exc:
        print(f"Cannot open {path}: {exc}", file=sys.stderr)
        return 2
    interactive = command_text is None and stdin.isatty()
    shell = Shell(con, max_rows)
    if interactive:
        print(f"datenwerk sql: {path} (read-only). .help for help, .quit to leave.")
    if command_text is not None:
        lines: Iterator[str] = iter(command_text.splitlines() or [""])
    else:
        lines = _terminal_lines(shell) if interactive else _piped_lines(stdin)
    with con:
        for line in lines:
            if not shell.feed(line, statement_per_line=command_text is not None):
                break
        shell.flush()
    return 1 if shell.errors and not interactive else 0
