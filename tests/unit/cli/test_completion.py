"""Shell completion of `kubectl incident`: the candidates, the protocol, the bash script."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from incident_operator.cli import completion
from incident_operator.cli.kubectl_plugin import build_parser, main
from tests.kube import REPO

BIN = Path(sys.executable).parent
NAMES = {None: ["checkout-5xx", "search-slow"], "payments": ["card-declines"]}


def complete(*words: str) -> tuple[list[str], int]:
    asked: list[str | None] = []

    def names(namespace: str | None) -> list[str]:
        asked.append(namespace)
        return NAMES.get(namespace, [])

    return completion.candidates(build_parser(), list(words), names)


def test_subcommands_with_a_prefix() -> None:
    found, directive = complete("")
    assert {"list", "timeline", "show", "completion", "slo", "export"} <= set(found)
    assert not [c for c in found if c.startswith("_")]
    assert directive == completion.NO_FILES
    assert complete("t") == (["task", "timeline"], completion.NO_FILES)
    assert complete("ti") == (["timeline"], completion.NO_FILES)
    assert complete("slo", "") == (["rules", "import"], completion.NO_FILES)


def test_flags_and_their_choices() -> None:
    found, _ = complete("list", "-")
    assert {"-A", "--all-namespaces", "-o", "--output", "-w", "--watch", "-n"} <= set(found)
    assert complete("list", "--w") == (["--watch"], completion.NO_FILES)
    assert complete("list", "-o", "") == (["json", "yaml", "wide", "name"], completion.NO_FILES)
    assert complete("list", "-o", "w") == (["wide"], completion.NO_FILES)
    assert complete("completion", "") == (["bash", "zsh"], completion.NO_FILES)
    # after the last positional, the flags are what is left
    assert "--follow" in complete("timeline", "checkout-5xx", "")[0]


def test_incident_names_in_the_namespace_given() -> None:
    assert complete("show", "") == (["checkout-5xx", "search-slow"], completion.NO_FILES)
    assert complete("timeline", "s") == (["search-slow"], completion.NO_FILES)
    assert complete("merge", "checkout-5xx", "") == (NAMES[None], completion.NO_FILES)
    assert complete("postmortem", "-n", "payments", "") == (["card-declines"], 4)
    assert complete("timeline", "--namespace=payments", "c") == (["card-declines"], 4)
    assert complete("resolve", "--wait", "5", "") == (NAMES[None], completion.NO_FILES)


def test_files_where_a_file_is_expected_and_nothing_after_unknown_words() -> None:
    assert complete("slo", "rules", "") == ([], completion.DEFAULT)
    assert complete("simulate", "--slo", "") == ([], completion.DEFAULT)
    assert complete("declare", "") == ([], completion.NO_FILES)  # a title: free text
    assert complete("frobnicate", "") == ([], completion.NO_FILES)


def test_the_protocol_is_one_candidate_a_line_then_the_directive() -> None:
    out = io.StringIO()
    assert completion.complete(build_parser(), ["list", "--a"], out) == 0
    assert out.getvalue() == "--all-namespaces\n:4\n"


def test_main_answers_the_hidden_complete_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["__complete", "lis"]) == 0
    assert capsys.readouterr().out == "list\n:4\n"
    assert "__complete" not in build_parser().format_help()


def test_kubectl_finds_a_completion_executable_for_the_plugin() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["kubectl-incident"] == "incident_operator.cli.kubectl_plugin:main"
    assert scripts["kubectl_complete-incident"] == "incident_operator.cli.completion:main"


def test_kubectl_completes_the_plugin_through_that_executable() -> None:
    done = subprocess.run(
        [str(BIN / "kubectl"), "__complete", "incident", "timeline", "x", "-o", "j"],
        capture_output=True,
        text=True,
        env=shell_env(),
        check=False,
    )
    assert (done.returncode, done.stdout.splitlines()) == (0, ["json", ":4"]), done.stderr


def shell_env() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "KUBECONFIG": os.devnull,  # names: none, quickly
    }


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("kubectl-incident li", ["list"]),
        ("kubectl-incident list --all", ["--all-namespaces"]),
        ("kubectl-incident timeline x -o ", ["json", "wide", "yaml"]),
    ],
)
def test_the_bash_script_completes(words: str, expected: list[str]) -> None:
    script = completion.BASH + (
        f"COMP_WORDS=({words}{' ' if words.endswith(' ') else ''}"
        + ("''" if words.endswith(" ") else "")
        + "); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _kubectl_incident; "
        'printf "%s\\n" "${COMPREPLY[@]}" | sort\n'
    )
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=shell_env(), check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected


def test_the_zsh_script_registers_and_completes() -> None:
    if shutil.which("zsh") is None:  # never a silent skip: the test is owed
        pytest.fail("zsh not found: run hack/install-deps.sh (Debian package zsh)")
    # compadd and _files only work inside a completion widget: stand-ins print what they get
    script = "\n".join(
        [
            "autoload -Uz compinit && compinit -u",
            completion.ZSH,
            "print ${_comps[kubectl-incident]}",
            "compadd() { [[ $1 == -a ]] && print -l -- ${(P)2} }",
            "_files() { print FILES }",
            'words=(kubectl-incident list -o ""); CURRENT=4; _kubectl_incident',
            'words=(kubectl-incident slo rules ""); CURRENT=4; _kubectl_incident',
            'words=(kubectl-incident declare ""); CURRENT=3; _kubectl_incident',
        ]
    )
    done = subprocess.run(
        ["zsh", "-f", "-c", script], capture_output=True, text=True, env=shell_env(), check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["_kubectl_incident", "json", "yaml", "wide", "name", "FILES"]


def test_completion_prints_the_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    for shell, script in completion.SCRIPTS.items():
        assert main(["completion", shell]) == 0
        assert capsys.readouterr().out == script
