"""The bad-input corpus (tests/data/bad/manifest.toml) through the real command line.

Every entry runs `python -m optimizer ARGS` in tests/data/bad and must give its exit code, exactly one
line on stderr matching its pattern (naming file, row and column where they apply), no traceback,
and no output folder or staging leftovers. The runs are independent processes, so they go in
parallel (one per core) in a module fixture; each entry is then checked as its own test.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import tomllib
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from optimizer.errors import InputError, one_line, show
from optimizer.schema import MAX_INPUT_BYTES, load_cases, load_states, read_csv_table
from conftest import BAD, relocate_process

MANIFEST = tomllib.loads((BAD / "manifest.toml").read_text(encoding="utf-8"))["case"]


def run_relocate(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    # a stray warning would show as a second stderr line
    return relocate_process(*args, cwd=cwd, env={"PYTHONWARNINGS": "default"}, timeout=120)


@dataclass
class Outcome:
    entry: dict
    out: Path
    done: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, Outcome]:
    base = tmp_path_factory.mktemp("bad-outputs")

    def one(entry: dict) -> Outcome:
        folder = base / entry["name"]
        folder.mkdir()
        out = folder / "plan"
        args = [str(out) if a == "{out}" else a for a in entry["args"]]
        return Outcome(entry, out, run_relocate(args, BAD))

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return {o.entry["name"]: o for o in pool.map(one, MANIFEST)}


def test_manifest_is_a_real_corpus():
    names = [e["name"] for e in MANIFEST]
    assert len(names) == len(set(names)), "entry names must be unique"
    assert len(MANIFEST) >= 30
    files = {p.name for p in BAD.iterdir() if p.name != "manifest.toml"}
    used = {a for e in MANIFEST for a in e["args"] if a in files}
    # Files only a scenario refers to count as used by it.
    for entry in MANIFEST:
        for arg in entry["args"]:
            if arg.endswith(".toml") and (BAD / arg).exists():
                used |= {f for f in files if f in (BAD / arg).read_bytes().decode("latin-1")}
    assert files - used == set(), f"corpus files no entry uses: {sorted(files - used)}"
    assert sum(1 for p in BAD.glob("*") if p.name.startswith("states_") or p.name.startswith("cases_")) >= 30
    for entry in MANIFEST:
        re.compile(entry["stderr"])
        assert entry["exit"] in (0, 2, 3)


@pytest.mark.parametrize("name", [e["name"] for e in MANIFEST])
def test_corpus_entry(outcomes, name):
    outcome = outcomes[name]
    entry, done = outcome.entry, outcome.done
    shown = f"relocate {' '.join(entry['args'])}\nexit {done.returncode}\nstderr: {done.stderr!r}"
    assert "Traceback" not in done.stderr + done.stdout, shown
    assert done.returncode == entry["exit"], shown
    lines = done.stderr.splitlines()
    if entry["exit"] == 0:
        assert re.search(entry["stderr"], done.stderr), shown
    else:
        assert len(lines) == 1, shown
        assert lines[0].startswith("relocate: error: "), shown
        assert re.search(entry["stderr"], lines[0]), shown
        assert done.stdout == "", shown
    if "stdout" in entry:
        assert re.search(entry["stdout"], done.stdout), f"{shown}\nstdout: {done.stdout!r}"
    if "files" in entry:
        # Honoured: the files show what the input asked for; nothing but the folder beside them.
        assert [p.name for p in outcome.out.parent.iterdir()] == [outcome.out.name], shown
        for name, pattern in entry["files"].items():
            text = (outcome.out / name).read_text(encoding="utf-8")
            assert re.search(pattern, text), f"{shown}\n{name}: {text[:3000]!r}"
        for name, pattern in entry.get("lacks", {}).items():
            text = (outcome.out / name).read_text(encoding="utf-8")
            assert not re.search(pattern, text), f"{shown}\n{name} matches {pattern!r}"
        return
    # No output folder, no staging folder, no partial file next to it.
    assert not outcome.out.exists(), shown
    assert list(outcome.out.parent.iterdir()) == [], shown


# ---------------------------------------------------------------------------------------------
# What the corpus cannot hold


def test_two_gigabyte_file_is_refused_without_reading_it(tmp_path):
    huge = tmp_path / "states_2gb.csv"
    with open(huge, "wb") as handle:
        handle.write(b"code,population\nAT,1\n")
        handle.truncate(2 * 1024**3)  # sparse: takes no disk space
    assert huge.stat().st_size > MAX_INPUT_BYTES
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(InputError, match=r"file is 2,048 MiB, above the 512 MiB limit for an input file; is this the right file\?"):
            read_csv_table(huge)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 10 * 2**20, f"read {peak / 2**20:.0f} MiB of a file it should refuse unread"
    assert time.perf_counter() - started < 5
    done = run_relocate(["solve", "--states", str(huge), "--total", "5", "-f", "population", "--out", str(tmp_path / "plan")], tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"relocate: error: {huge}: file is 2,048 MiB, above the 512 MiB limit for an input file; is this the right file?"]
    assert not (tmp_path / "plan").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["states_2gb.csv"]


def test_devices_and_pipes_are_refused_before_they_are_read(tmp_path):
    """/dev/zero never ends and a FIFO blocks the open until someone writes: both are refused
    from their file type, at once and without reading a byte."""
    fifo = tmp_path / "states.csv"
    os.mkfifo(fifo)
    started = time.perf_counter()
    with pytest.raises(InputError, match=r"states\.csv: is a pipe \(FIFO\), expected a CSV file; inputs must be regular files$"):
        read_csv_table(fifo)
    with pytest.raises(InputError, match=r"/dev/zero: is a device, expected a CSV file; inputs must be regular files$"):
        read_csv_table("/dev/zero")
    assert time.perf_counter() - started < 5
    # through the command line, as a scenario names it: refused, not blocked
    (tmp_path / "fifo.toml").write_text('states = "states.csv"\ntotal = 10\nformula = "population"\n', encoding="utf-8")
    done = run_relocate(["solve", "fifo.toml", "--out", str(tmp_path / "plan")], tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == ["relocate: error: states.csv: is a pipe (FIFO), expected a CSV file; inputs must be regular files"]


def test_odd_but_valid_files_are_read_exactly():
    bom = load_states(BAD / "states_bom.csv")
    good = load_states(BAD / "good_states.csv")
    assert list(bom.index) == list(good.index) == ["AT", "BE", "CZ", "DE"]
    assert bom.drop(columns=[]).equals(good)
    european = load_states(BAD / "states_semicolon_decimal_comma.csv")
    assert european.at["AT", "population"] == 9158750
    assert european.at["BE", "population"] == 11832049
    assert european.at["AT", "gdp_meur"] == pytest.approx(1234.5)
    assert european.at["BE", "gdp_meur"] == pytest.approx(3703.5)
    assert european.at["AT", "name"] == "Österreich"
    assert european.at["AT", "capacity"] == 40


@pytest.mark.parametrize(
    "text, column, expected",
    [
        # Semicolon files with decimal points (no decimal comma anywhere) are read as such.
        ("code;population;gdp_meur\nAT;9158750;477837.3\nBE;11832049;1.500\n", "gdp_meur", [477837.3, 1.5]),
        # With a decimal comma anywhere, dots group thousands.
        ("code;population;gdp_meur\nAT;9.158.750;477837,3\nBE;11.832.049;1.500\n", "population", [9158750, 11832049]),
        ("code;population;gdp_meur\nAT;9.158.750;477837,3\nBE;11.832.049;1.500\n", "gdp_meur", [477837.3, 1500]),
        # Only thousands groups and no decimals: the European reading.
        ("code;population\nAT;9.158.750\nBE;500\n", "population", [9158750, 500]),
        # Tabs, and ghost columns without a name or a value (spreadsheets export them).
        ("code\tpopulation\nAT\t5\nBE\t7\n", "population", [5, 7]),
        ("code,population,,\nAT,5,,\nBE,7,,\n", "population", [5, 7]),
        # Blank lines and padding are ignored; numbers in exponent form are fine.
        ("code , population\n\n AT , 5e3 \n\n,\nBE,7\n", "population", [5000, 7]),
        ("code,population\r\nAT,5\r\nBE,7\r\n", "population", [5, 7]),
        # A decimal comma is one whatever the separator (a quoted cell in a comma-separated file).
        ('code,population\nAT,1\nBE,"1,5"\n', "population", [1, 1.5]),
        # '0.125' (a leading zero) and '477837.3' cannot hold a thousands separator: decimal points;
        # a lone '1.500' is then 1.5. This file was read as 125 and 1500 before.
        ("code;gdp_meur\nAT;0.125\nBE;1.500\n", "gdp_meur", [0.125, 1.5]),
        # Several dots group thousands, so a comma is the decimal mark.
        ("code\tpopulation\tgdp_meur\nAT\t9.158.750\t1.500\nBE\t11.832.049\t2\n", "gdp_meur", [1500, 2]),
        # US style: commas group thousands, a point marks decimals.
        ('code,population,gdp_meur\nAT,"9,158,750",477837.3\nBE,"1,500",2\n', "population", [9158750, 1500]),
        # Header names are matched ignoring case and surrounding spaces.
        (" Code ,POPULATION\nAT,5\nBE,7\n", "population", [5, 7]),
    ],
)
def test_accepted_formats(tmp_path, text, column, expected):
    path = tmp_path / "states.csv"
    path.write_text(text, encoding="utf-8")
    states = load_states(path)
    assert states[column].tolist() == pytest.approx(expected)


@pytest.mark.parametrize(
    "cell, message",
    [
        ("nan", "'nan' is not a number"),
        ("NaN", "'NaN' is not a number"),
        ("NAN", "'NAN' is not a number"),
        ("-nan", "'-nan' is not a number"),
        ("inf", "'inf' is not a finite number"),
        ("-inf", "'-inf' is not a finite number"),
        ("Infinity", "'Infinity' is not a finite number"),
        ("1e400", "'1e400' is too large"),
        ("1e16", "'1e16' is too large"),
        ("null", "'null' is not a number"),
        ("N/A", "'N/A' is not a number"),
        ("1_000", "'1_000' is not a number"),
        ("0x10", "'0x10' is not a number"),
        ("1,2,3", r"'1,2,3': the numbers of this file have '\.' as the decimal mark"),
        ("\u0661\u0662", "'\u0661\u0662' is not a number"),  # Arabic-Indic digits: Python's float() takes them
        ("5 000", "'5 000' is not a number"),
        ("True", "'True' is not a number"),
        ("-0.5", "negative value -0.5"),
    ],
)
def test_numbers_are_strict(tmp_path, cell, message):
    path = tmp_path / "states.csv"
    path.write_text(f'code,population\nAT,1\nBE,"{cell}"\n', encoding="utf-8")
    with pytest.raises(InputError, match=rf"row 3, column 'population': {message}"):
        load_states(path)


def test_strict_numbers_in_cases_too(tmp_path):
    for cell in ("nan", "inf", "2.0000001", "1e10"):
        path = tmp_path / "cases.csv"
        path.write_text(f"case_id,size\na,1\nb,{cell}\n", encoding="utf-8")
        with pytest.raises(InputError, match=r"row 3, column 'size'"):
            load_cases(path)


def test_messages_are_one_printable_line(tmp_path):
    path = tmp_path / "states.csv"
    path.write_text('code,population\n"A\nB\u202e",1\n"A\nB\u202e",2\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_states(path)
    message = str(caught.value)
    assert "\n" not in message and "\u202e" not in message
    assert "'A\\x0aB\\u202e'" in message and "row 3" in message
    long = "x" * 10_000
    assert len(show(long)) < 70
    assert one_line("a\rb\tc\x00") == "a\\x0db\\x09c\\x00"
