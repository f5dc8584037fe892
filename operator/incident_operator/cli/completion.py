"""Shell completion: `kubectl incident completion bash|zsh`, and what kubectl asks plugins.

kubectl (1.26 and later) completes ``kubectl incident ...`` by running the executable
``kubectl_complete-incident`` from PATH (installed with ``kubectl-incident``) with the words
after ``incident``, the last one being the word to complete ("" for a new one). It prints one
candidate per line and then ``:N``, Cobra's ShellCompDirective (4: do not fall back to file
names). ``kubectl-incident __complete WORDS...`` answers the same; the scripts printed by
``completion bash|zsh`` use it to complete ``kubectl-incident`` typed on its own.

Candidates come from the plugin's own argument parser: subcommands, flags, a flag's choices,
file names for file arguments, and incident names for an incident argument (from the
current kubeconfig, ``-n`` respected; none when the cluster does not answer within 3 s).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from incident_operator.errors import IncidentOperatorError

DEFAULT = 0
"""Cobra's ShellCompDirectiveDefault: the shell may complete file names."""
NO_FILES = 4
"""Cobra's ShellCompDirectiveNoFileComp."""
INCIDENT_ARGUMENTS = frozenset({"name", "into", "incident"})
"""Positional arguments that name an Incident (``merge NAME INTO``, ``postmortem INCIDENT``)."""
NAMES_TIMEOUT = 3.0

Names = Callable[[str | None], list[str]]

BASH = r"""# bash completion for kubectl-incident; load it with
#   source <(kubectl-incident completion bash)
# (`kubectl incident` completes through kubectl's completion and kubectl_complete-incident.)
_kubectl_incident() {
    local IFS=$'\n' cur=${COMP_WORDS[COMP_CWORD]} directive
    local -a lines
    lines=($(kubectl-incident __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
    (( ${#lines[@]} )) || return 0
    directive=${lines[${#lines[@]}-1]#:}
    unset 'lines[${#lines[@]}-1]'
    COMPREPLY=($(compgen -W "${lines[*]}" -- "$cur"))
    if (( ${#COMPREPLY[@]} == 0 && (directive & 4) )); then
        compopt +o default 2>/dev/null
    fi
    return 0
}
complete -o default -F _kubectl_incident kubectl-incident
"""

ZSH = r"""#compdef kubectl-incident
# zsh completion for kubectl-incident (after compinit); load it with
#   source <(kubectl-incident completion zsh)
# (`kubectl incident` completes through kubectl's completion and kubectl_complete-incident.)
_kubectl_incident() {
    local -a lines
    local directive
    lines=("${(@f)$(kubectl-incident __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    directive=${lines[-1]#:}
    lines=("${(@)lines[1,-2]}")
    if (( ${#lines} )); then
        compadd -a lines
    elif (( (directive & 4) == 0 )); then
        _files
    fi
}
compdef _kubectl_incident kubectl-incident
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "completion", help="print a bash or zsh completion script", description=__doc__
    )
    parser.add_argument("shell", choices=sorted(SCRIPTS))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    (out or sys.stdout).write(SCRIPTS[args.shell])
    return 0


def _positionals(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not a.option_strings]


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    return [s for a in parser._actions if a.help != argparse.SUPPRESS for s in a.option_strings]


def _values(action: argparse.Action, namespace: str | None, names: Names) -> tuple[list[str], int]:
    """What may follow as the value of ``action``."""
    if isinstance(action, argparse._SubParsersAction):
        return [c for c in action.choices if not c.startswith("_")], NO_FILES
    if action.choices:
        return [str(c) for c in action.choices], NO_FILES
    if action.type is Path:
        return [], DEFAULT
    if not action.option_strings and action.dest in INCIDENT_ARGUMENTS:
        return names(namespace), NO_FILES
    return [], NO_FILES


@dataclass
class _Cursor:
    """Where the finished words leave the command line."""

    parser: argparse.ArgumentParser
    positional: int = 0
    """Index of the next positional argument of ``parser``."""
    expecting: argparse.Action | None = None
    """The option whose value the next word is."""
    namespace: str | None = None

    def take(self, word: str) -> bool:
        """Read one finished word; False when it names a subcommand that does not exist."""
        if self.expecting is not None:
            if self.expecting.dest == "namespace":
                self.namespace = word
            self.expecting = None
            return True
        if word.startswith("-") and word != "-":
            self._flag(word)
            return True
        return self._positional(word)

    def _flag(self, word: str) -> None:
        flag, equals, value = word.partition("=")
        action = self.parser._option_string_actions.get(flag)
        if action is not None and action.nargs != 0 and not equals:
            self.expecting = action
        elif action is not None and action.dest == "namespace":
            self.namespace = value

    def _positional(self, word: str) -> bool:
        actions = _positionals(self.parser)
        if self.positional >= len(actions):
            return True
        action = actions[self.positional]
        if isinstance(action, argparse._SubParsersAction):
            if word not in action.choices:
                return False
            self.parser, self.positional = action.choices[word], 0
        elif action.nargs not in ("*", "+", argparse.REMAINDER):
            self.positional += 1
        return True


def candidates(
    parser: argparse.ArgumentParser, words: Sequence[str], names: Names
) -> tuple[list[str], int]:
    """The completions of the last of ``words`` (the words after the plugin's name)."""
    *done, current = list(words) or [""]
    cursor = _Cursor(parser)
    for word in done:
        if not cursor.take(word):
            return [], NO_FILES
    positionals = _positionals(cursor.parser)
    if cursor.expecting is not None:
        found, directive = _values(cursor.expecting, cursor.namespace, names)
    elif current.startswith("-") or cursor.positional >= len(positionals):
        found, directive = _flags(cursor.parser), NO_FILES
    else:
        found, directive = _values(positionals[cursor.positional], cursor.namespace, names)
    return [c for c in found if c.startswith(current)], directive


def incident_names(namespace: str | None) -> list[str]:
    """The Incidents' names in ``namespace`` (kubeconfig's by default); [] when unreachable."""
    from incident_operator.adapters.incident_client import IncidentClient  # noqa: PLC0415

    try:
        return IncidentClient(namespace).names(timeout=NAMES_TIMEOUT)
    except IncidentOperatorError:
        return []


def complete(
    parser: argparse.ArgumentParser,
    words: Sequence[str],
    out: TextIO | None = None,
    names: Names = incident_names,
) -> int:
    """Answer in the protocol kubectl and Cobra use: candidates, then ``:directive``."""
    found, directive = candidates(parser, words, names)
    (out or sys.stdout).write("".join(f"{c}\n" for c in found) + f":{directive}\n")
    return 0


def main() -> int:
    """``kubectl_complete-incident``: what kubectl runs to complete ``kubectl incident``."""
    from .kubectl_plugin import main as plugin_main  # noqa: PLC0415

    return plugin_main(["__complete", *sys.argv[1:]])
