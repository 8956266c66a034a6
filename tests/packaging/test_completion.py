"""Shell completion (README, "Shell completion"): click writes the script for bash, zsh and fish,
and the script's callback completes `beton`'s commands."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# `beton` as the console script runs it: main() names the program "beton", so click reads _BETON_COMPLETE
RUN_AS_BETON = "from beton_runner.cli.app import main; main()"


def complete(env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", RUN_AS_BETON], capture_output=True, text=True, env={**os.environ, **env}, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _beton_completion beton"),
        ("zsh", "compdef _beton_completion beton"),
        ("fish", "complete --no-files --command beton --arguments"),
    ],
)
def test_completion_script_for_each_shell(shell, marker):
    script = complete({"_BETON_COMPLETE": f"{shell}_source"})
    assert marker in script
    assert "_BETON_COMPLETE" in script


def test_completion_completes_commands_and_subcommands():
    top = complete({"_BETON_COMPLETE": "bash_complete", "COMP_WORDS": "beton ru", "COMP_CWORD": "1"})
    assert top.split() == ["plain,rules", "plain,run"]
    sub = complete({"_BETON_COMPLETE": "bash_complete", "COMP_WORDS": "beton rules c", "COMP_CWORD": "2"})
    assert sub.split() == ["plain,check", "plain,compile"]
    init = complete({"_BETON_COMPLETE": "bash_complete", "COMP_WORDS": "beton in", "COMP_CWORD": "1"})
    assert "plain,init" in init.split()
