"""The state machine as a Mermaid flowchart, generated from `statemachines/distillation.asl.json`.

The README shows it between two marker comments; `make diagram` rewrites that block and
`tests/unit/test_state_machine_diagram.py` fails when it is stale. Plain JSON in, Mermaid text out: no CDK.

Drawn: every state (Task with the function it invokes, Choice as a diamond, Wait, Pass, Succeed, Fail),
`Next`/`Default`/`Choices` edges (a choice's condition as the label), `Catch` edges dashed and labelled with
the error names, `End` into an end node, and Parallel branches or a Map's iterator as subgraphs. Retries are
left out: every Task has them, so they would double every arrow and tell nothing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from stacks.pipeline_spec import DEFINITION_FILE, WORKFLOW_FUNCTIONS, render_definition, substitutions

README_FILE: Final = Path(__file__).resolve().parents[1] / "README.md"
BEGIN_MARKER: Final = (
    "<!-- state-machine-diagram:start: generated from statemachines/distillation.asl.json by `make diagram` -->"
)
END_MARKER: Final = "<!-- state-machine-diagram:end -->"

# Words Mermaid's flowchart grammar reads as keywords where a node id stands.
_RESERVED_IDS: Final = frozenset(
    {"end", "graph", "flowchart", "subgraph", "style", "class", "classdef", "click", "linkstyle", "default", "call"}
)
_COMPARATORS: Final = {
    "Equals": "=",
    "LessThan": "<",
    "LessThanEquals": "≤",
    "GreaterThan": ">",
    "GreaterThanEquals": "≥",
    "Matches": "matches",
}
_TYPE_TESTS: Final = {
    "IsPresent": "present",
    "IsNull": "null",
    "IsBoolean": "a boolean",
    "IsNumeric": "a number",
    "IsString": "a string",
    "IsTimestamp": "a timestamp",
}
_CLASS_DEFS: Final = {
    "succeed": "fill:#d3f0d9,stroke:#2e7d32,color:#1b3d20",
    "fail": "fill:#f8d7da,stroke:#c62828,color:#4a1014",
    "terminal": "fill:#e0e0e0,stroke:#616161,color:#212121",
}


def definition_for_diagram(definition_text: str | None = None) -> dict[str, Any]:
    """The definition with each function ARN replaced by the function's name (WORKFLOW_FUNCTIONS' key), so a
    Task can say which function it runs; the numeric substitutions do not show."""
    return render_definition(substitutions({name: name for name in WORKFLOW_FUNCTIONS}), definition_text)


def label(text: str) -> str:
    """A quoted Mermaid label: quotes, `#` and angle brackets as Mermaid entity codes, so `?`, parentheses,
    `$` and the rest are plain text."""
    escaped = text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    return f'"{escaped}"'


def _lines_label(*lines: str) -> str:
    """A label of several lines; each is escaped, the line breaks are Mermaid's `<br/>`."""
    return '"' + "<br/>".join(label(line)[1:-1] for line in lines) + '"'


def condition(rule: Mapping[str, Any]) -> str:
    """A Choice rule as a short label: `status = Completed`, `status = Creating or status = Updating`."""
    if "Condition" in rule:  # JSONata
        return str(rule["Condition"]).strip("{}% ")
    if "And" in rule:
        return " and ".join(condition(part) for part in rule["And"])
    if "Or" in rule:
        return " or ".join(condition(part) for part in rule["Or"])
    if "Not" in rule:
        return f"not ({condition(rule['Not'])})"
    return _comparison(rule)


def _comparison(rule: Mapping[str, Any]) -> str:
    """One Variable compared or type-tested: `status = Completed`, `count ≥ $.limit`, `a is present`."""
    variable = str(rule.get("Variable", "$")).rsplit(".", 1)[-1].lstrip("$") or "input"
    for key, value in rule.items():
        if key in _TYPE_TESTS:
            return f"{variable} is {'' if value else 'not '}{_TYPE_TESTS[key]}"
        for kind in ("String", "Numeric", "Boolean", "Timestamp"):
            if not key.startswith(kind):
                continue
            comparison = key.removeprefix(kind)
            by_path = comparison.endswith("Path")
            operator = _COMPARATORS.get(comparison.removesuffix("Path"), comparison)
            return f"{variable} {operator} {value if by_path else _literal(value)}"
    return "?"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class _Ids:
    """Mermaid node ids: the state name without the characters an id cannot hold, unique across the diagram."""

    taken: set[str] = field(default_factory=set)
    by_key: dict[tuple[str, ...], str] = field(default_factory=dict)

    def of(self, *key: str, readable: str | None = None) -> str:
        """The id of `key` (a path of names), made from `readable` (by default the last name), numbered if
        another has it."""
        if key not in self.by_key:
            base = re.sub(r"[^A-Za-z0-9_]", "", readable or key[-1]) or "state"
            if base[0].isdigit() or base.lower() in _RESERVED_IDS:
                base = f"s_{base}"
            candidate, n = base, 2
            while candidate in self.taken:
                candidate, n = f"{base}_{n}", n + 1
            self.taken.add(candidate)
            self.by_key[key] = candidate
        return self.by_key[key]


@dataclass
class _Scope:
    """One set of states: the top level, or one branch of a Parallel or a Map's iterator. `path` keeps
    states of the same name in different branches apart."""

    path: tuple[str, ...]
    states: Mapping[str, Any]
    start_at: str


class _Diagram:
    def __init__(self, definition: Mapping[str, Any]) -> None:
        self.ids = _Ids()
        self.nodes: list[str] = []
        self.edges: list[str] = []
        self.classes: dict[str, list[str]] = {name: [] for name in _CLASS_DEFS}
        self.root = _Scope((), definition["States"], definition["StartAt"])

    def render(self) -> str:
        self._scope(self.root, "Start", "End", indent="    ")
        lines = ["flowchart TD", *self.nodes, *self.edges]
        for name, style in _CLASS_DEFS.items():
            lines.append(f"    classDef {name} {style}")
            if self.classes[name]:
                lines.append(f"    class {','.join(self.classes[name])} {name}")
        return "\n".join(lines) + "\n"

    def _id(self, scope: _Scope, state: str) -> str:
        return self.ids.of(*scope.path, state)

    def _scope(self, scope: _Scope, start_text: str, end_text: str, indent: str) -> None:
        # "#" keeps these keys apart from a state named "start" or "end".
        start = self.ids.of(*scope.path, "#start", readable="_".join((*scope.path, "start")))
        self.nodes.append(f"{indent}{start}(({label(start_text)}))")
        self.classes["terminal"].append(start)
        self.edges.append(f"    {start} --> {self._id(scope, scope.start_at)}")
        end: str | None = None
        for name, state in scope.states.items():
            if state.get("End") and end is None:
                end = self.ids.of(*scope.path, "#end", readable="_".join((*scope.path, "end")))
            self._state(scope, name, state, indent)
            if state.get("End"):
                self.edges.append(f"    {self._id(scope, name)} --> {end}")
        if end is not None:
            self.nodes.append(f"{indent}{end}(({label(end_text)}))")
            self.classes["terminal"].append(end)

    def _state(self, scope: _Scope, name: str, state: Mapping[str, Any], indent: str) -> None:
        node = self._id(scope, name)
        kind = state["Type"]
        if kind in ("Parallel", "Map"):
            self._block(scope, name, state, indent)
        elif kind == "Task":
            self.nodes.append(f"{indent}{node}[{_lines_label(name, _task_action(state))}]")
        elif kind == "Choice":
            self.nodes.append(f"{indent}{node}{{{label(name)}}}")
        elif kind == "Wait":
            self.nodes.append(f"{indent}{node}[/{_lines_label(name, _wait_action(state))}/]")
        elif kind in ("Succeed", "Fail"):
            self.nodes.append(f"{indent}{node}([{_lines_label(name, kind)}])")
            self.classes["succeed" if kind == "Succeed" else "fail"].append(node)
        else:  # Pass
            self.nodes.append(f"{indent}{node}[{_lines_label(name, kind)}]")
        for choice in state.get("Choices", []):
            self.edges.append(f"    {node} -->|{label(condition(choice))}| {self._id(scope, choice['Next'])}")
        if "Default" in state:
            self.edges.append(f"    {node} -->|{label('otherwise')}| {self._id(scope, state['Default'])}")
        if "Next" in state:
            self.edges.append(f"    {node} --> {self._id(scope, state['Next'])}")
        for catcher in state.get("Catch", []):
            errors = ", ".join(catcher["ErrorEquals"])
            self.edges.append(f"    {node} -.->|{label(errors)}| {self._id(scope, catcher['Next'])}")

    def _block(self, scope: _Scope, name: str, state: Mapping[str, Any], indent: str) -> None:
        """A Parallel's branches, or a Map's iterator, inside a subgraph named after the state; the state's
        own edges leave the subgraph."""
        kind = state["Type"]
        if kind == "Map":
            processor = state.get("ItemProcessor") or state["Iterator"]
            branches = [processor]
            title = f"{name} (Map: each item)"
        else:
            branches = state["Branches"]
            title = f"{name} (Parallel)"
        self.nodes.append(f"{indent}subgraph {self._id(scope, name)} [{label(title)}]")
        for number, branch in enumerate(branches, start=1):
            path = (*scope.path, name, f"branch{number}")
            inner = _Scope(path, branch["States"], branch["StartAt"])
            if len(branches) == 1:
                self._scope(inner, "block starts", "block ends", indent + "    ")
                continue
            branch_id = self.ids.of(*path, readable="_".join(path))
            self.nodes.append(f"{indent}    subgraph {branch_id} [{label(f'branch {number}')}]")
            self._scope(inner, "branch starts", "branch ends", indent + "        ")
            self.nodes.append(f"{indent}    end")
        self.nodes.append(f"{indent}end")


def _task_action(state: Mapping[str, Any]) -> str:
    resource = str(state["Resource"])
    parameters = state.get("Parameters") or state.get("Arguments") or {}
    function = resource if resource in WORKFLOW_FUNCTIONS else parameters.get("FunctionName")
    if function is None:
        return resource.removeprefix("arn:aws:states:::")
    if resource.endswith(".waitForTaskToken"):
        return f"λ {function}, then waits for its task token"
    return f"λ {function}"


def _wait_action(state: Mapping[str, Any]) -> str:
    for key in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath"):
        if key in state:
            return f"Wait {state[key]}{' s' if key == 'Seconds' else ''}"
    return "Wait"


def state_machine_mermaid(definition: Mapping[str, Any] | None = None) -> str:
    """The Mermaid flowchart of the definition (by default the repository's)."""
    return _Diagram(definition if definition is not None else definition_for_diagram()).render()


def state_names(definition: Mapping[str, Any]) -> Iterator[str]:
    """Every state of the definition, nested ones included."""
    for name, state in definition["States"].items():
        yield name
        branches: Iterable[Mapping[str, Any]] = state.get("Branches", [])
        if state["Type"] == "Map":
            branches = [state.get("ItemProcessor") or state["Iterator"]]
        for branch in branches:
            yield from state_names(branch)


def readme_block(mermaid: str) -> str:
    """What stands between (and including) the markers in the README."""
    return f"{BEGIN_MARKER}\n```mermaid\n{mermaid}```\n{END_MARKER}"


def replace_block(readme_text: str, mermaid: str) -> str:
    """The README with the diagram block replaced; both markers must be there, once each, in order."""
    begin, end = readme_text.find(BEGIN_MARKER), readme_text.find(END_MARKER)
    if readme_text.count(BEGIN_MARKER) != 1 or readme_text.count(END_MARKER) != 1 or end < begin:
        raise ValueError(f"the README must hold {BEGIN_MARKER!r} and then {END_MARKER!r}, once each")
    return readme_text[:begin] + readme_block(mermaid) + readme_text[end + len(END_MARKER) :]


def main(readme: Path = README_FILE) -> int:
    """`make diagram`: rewrite the README's block from the definition."""
    text = readme.read_text()
    updated = replace_block(text, state_machine_mermaid())
    if updated == text:
        print(f"{readme.name}: the state-machine diagram is current")
    else:
        readme.write_text(updated)
        print(f"{readme.name}: state-machine diagram regenerated from {DEFINITION_FILE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
