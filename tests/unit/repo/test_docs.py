"""The documentation stays true: its links resolve and its runnable commands exist.

Convention: a fenced block tagged `sh` is runnable. Each of its commands that starts with
`make` must name real Makefile targets; each that starts with `kubectl incident` must be
accepted by the plugin's own argument parser (operator/incident_operator/cli/). Untagged
blocks are output or sketches and are not checked.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from incident_operator.cli.kubectl_plugin import build_parser
from tests.kube import REPO

PAGES = sorted(
    [
        REPO / "README.md",
        REPO / "CONTRIBUTING.md",
        REPO / "charts" / "incident-operator" / "README.md",
        *(REPO / "docs").glob("*.md"),
    ]
)
FENCE = re.compile(r"^(```+|~~~+)\s*(\S*)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
MAKE_TARGET = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*:(?!=)")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SEPARATORS = {"&&", "||", ";", "|"}


def prose(text: str) -> Iterator[str]:
    """The lines outside fenced code blocks."""
    fence = ""
    for line in text.splitlines():
        match = FENCE.match(line.strip())
        if match and (not fence or match.group(1).startswith(fence)):
            fence = "" if fence else match.group(1)[:3]
            continue
        if not fence:
            yield line


def runnable_blocks(text: str) -> Iterator[str]:
    """The bodies of the blocks tagged `sh`, continuation lines joined."""
    fence, tag, body = "", "", list[str]()
    for line in text.splitlines():
        match = FENCE.match(line.strip())
        if match and (not fence or match.group(1).startswith(fence)):
            if fence:
                if tag == "sh":
                    yield "\n".join(body).replace("\\\n", " ")
                fence, tag, body = "", "", []
            else:
                fence, tag = match.group(1)[:3], match.group(2)
            continue
        if fence:
            body.append(line)


def commands(block: str) -> Iterator[list[str]]:
    """Each simple command of a block as words: comments, env prefixes and pipes removed."""
    for line in block.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words: list[str] = []
        redirect = False
        for word in [*lexer, ";"]:
            if word in {">", ">>"}:  # an output redirection: its target is not a word
                redirect = True
                continue
            if redirect:
                redirect = False
                continue
            if word in SEPARATORS:
                while words and ENV_ASSIGNMENT.match(words[0]):
                    words.pop(0)
                if words:
                    yield words
                words = []
            else:
                words.append(word)


def make_targets() -> set[str]:
    targets = set()
    for line in (REPO / "Makefile").read_text().splitlines():
        if line.startswith(".PHONY:"):
            targets.update(line.split(":", 1)[1].split())
        elif match := MAKE_TARGET.match(line):
            targets.add(match.group(1))
    return targets


def command_errors(text: str, targets: set[str]) -> list[str]:
    """What is wrong with the runnable commands of one page (empty: nothing)."""
    errors = []
    for block in runnable_blocks(text):
        for words in commands(block):
            if words[0] == "make":
                unknown = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
                missing = [w for w in unknown if w not in targets]
                errors += [f"`{shlex.join(words)}`: no make target {w}" for w in missing]
            elif words[:2] == ["kubectl", "incident"]:
                stderr = io.StringIO()
                try:
                    with contextlib.redirect_stderr(stderr):
                        build_parser().parse_args(words[2:])
                except SystemExit:
                    message = stderr.getvalue().strip().splitlines()[-1:]
                    errors.append(f"`{shlex.join(words)}`: {' '.join(message)}")
    return errors


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    for line in prose(page.read_text()):
        if match := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line):
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
    found = set()
    for base, count in seen.items():
        found.add(base)
        found.update(f"{base}-{n}" for n in range(1, count))
    return found


def shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def link_errors(page: Path) -> list[str]:
    errors = []
    for line in prose(page.read_text()):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto:, ...
            path, _, fragment = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                errors.append(f"{target}: no file {shown(resolved)}")
            elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
                errors.append(f"{target}: no heading #{fragment} in {shown(resolved)}")
    return errors


def test_the_pages_exist() -> None:
    assert all(page.is_file() for page in PAGES)
    assert len(PAGES) > 10


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_points_to_an_existing_file(page: Path) -> None:
    assert link_errors(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_runnable_command_is_a_make_target_or_a_plugin_command(page: Path) -> None:
    assert command_errors(page.read_text(), make_targets()) == []


def test_the_readme_shows_runnable_commands_of_both_kinds() -> None:
    words = [w for b in runnable_blocks((REPO / "README.md").read_text()) for w in commands(b)]
    assert ["make", "demo"] in words
    assert ["make", "up"] in words
    assert any(w[:2] == ["kubectl", "incident"] for w in words)


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n[gone](missing.md) [here](#title) [there](#nowhere) [web](https://x.example)\n"
        "```sh\nmake up  # fine\nmake no-such-target\nFOO=1 make demo && make bogus\n"
        "kubectl incident resolve INC\nkubectl incident frobnicate INC\n"
        "kubectl incident mitigate INC --no-such-flag\n```\n"
        "```\nmake not-runnable\n```\n"
    )
    assert [e.split(":")[0] for e in link_errors(page)] == ["missing.md", "#nowhere"]
    errors = command_errors(page.read_text(), make_targets())
    assert len(errors) == 4, errors
    assert "no make target no-such-target" in errors[0]
    assert "no make target bogus" in errors[1]
    assert "frobnicate" in errors[2]
    assert "--no-such-flag" in errors[3]
