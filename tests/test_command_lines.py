"""The command lines teach: every argument of each entry point has help text and each
closes with an example; `make help` gives every target a line."""

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from replication_ladder.scaffold import trial as scaffold

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "tests" / "benchmarks"))
import benchmark  # noqa: E402  (a script, not a package)


class Parsed(Exception):
    def __init__(self, parser):
        self.parser = parser


@pytest.mark.parametrize("main", [scaffold.main, benchmark.main], ids=["scaffold", "benchmark"])
def test_every_argument_has_help_and_the_epilog_an_example(main, monkeypatch):
    def caught(parser, *args, **kwargs):
        raise Parsed(parser)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", caught)
    monkeypatch.setattr(sys, "argv", ["prog"])
    with pytest.raises(Parsed) as parsed:
        main()
    parser = parsed.value.parser
    silent = [a.dest for a in parser._actions if not a.help or a.help == argparse.SUPPRESS]
    assert silent == []
    assert "example:\n" in parser.epilog
    assert parser.format_help().count("\n") > len(parser._actions)


def test_make_help_gives_every_target_a_line():
    """Each target .PHONY names starts a line of `make help`, with words after it."""
    makefile = (PROJECT / "Makefile").read_text()
    targets = re.search(r"^\.PHONY: (.+)$", makefile, re.M).group(1).split()
    shown = subprocess.run(
        ["make", "-s", "help"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout
    described = {m.group(1) for m in re.finditer(r"^make ([\w-]+)\s+\S.*\S$", shown, re.M)}
    assert set(targets) - described == set()
