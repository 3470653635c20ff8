"""The README's state-machine diagram is generated from the definition and kept current."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from stacks.pipeline_spec import EVENT_FUNCTIONS
from stacks.state_machine_diagram import (
    BEGIN_MARKER,
    END_MARKER,
    README_FILE,
    condition,
    definition_for_diagram,
    label,
    main,
    readme_block,
    replace_block,
    state_machine_mermaid,
    state_names,
)

pytestmark = pytest.mark.unit

# A node declaration: `id["first line<br/>more"]`, `id{"..."}`, `id(("..."))`, `id([...])`, `id[/.../]`.
NODE = re.compile(r'^\s*(?P<id>[A-Za-z_][A-Za-z0-9_]*)(?:\[/|\(\[|\(\(|\[|\{)"(?P<label>[^"]*)"')
SUBGRAPH = re.compile(r'^\s*subgraph (?P<id>[A-Za-z_][A-Za-z0-9_]*) \["(?P<label>[^"]*)"\]$')
EDGE = re.compile(r'^\s*(?P<source>\w+) (?P<arrow>-->|-\.->)(?:\|"(?P<label>[^"]*)"\|)? (?P<target>\w+)$')
ARCHITECTURE_BEGIN = "<!-- architecture-diagram:start -->"
ARCHITECTURE_END = "<!-- architecture-diagram:end -->"


def _ids_by_state(mermaid: str) -> dict[str, str]:
    """The node (or subgraph) id of each label's first line, which is the state's name."""
    ids: dict[str, str] = {}
    for line in mermaid.splitlines():
        match = NODE.match(line) or SUBGRAPH.match(line)
        if match:
            name = match["label"].split("<br/>")[0].removesuffix(" (Parallel)").removesuffix(" (Map: each item)")
            for code, character in (("#quot;", '"'), ("#lt;", "<"), ("#gt;", ">"), ("#35;", "#")):
                name = name.replace(code, character)
            ids[name] = match["id"]
    return ids


def _edges(mermaid: str) -> set[tuple[str, str, str, str]]:
    return {
        (match["source"], match["arrow"], match["label"] or "", match["target"])
        for match in map(EDGE.match, mermaid.splitlines())
        if match
    }


def _transitions(states: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    """Every Next/Default/Choices/Catch transition of the definition, as (from, arrow, label, to)."""
    found: set[tuple[str, str, str, str]] = set()
    for name, state in states.items():
        if "Next" in state:
            found.add((name, "-->", "", state["Next"]))
        if "Default" in state:
            found.add((name, "-->", "otherwise", state["Default"]))
        found |= {(name, "-->", condition(choice), choice["Next"]) for choice in state.get("Choices", [])}
        found |= {(name, "-.->", ", ".join(c["ErrorEquals"]), c["Next"]) for c in state.get("Catch", [])}
        for branch in state.get("Branches", []):
            found |= _transitions(branch["States"])
    return found


def test_the_readme_diagram_is_the_one_the_definition_generates() -> None:
    # Given the README and the definition as they are in the repository
    readme = README_FILE.read_text()
    # When the diagram is generated in memory
    current = readme_block(state_machine_mermaid())
    # Then the README holds exactly that block
    assert current in readme, (
        "README.md's state-machine diagram is stale or missing: run `make diagram` "
        "(the definition or the generator changed since the README was last generated)"
    )


def test_every_state_of_the_definition_is_a_node_of_the_diagram() -> None:
    definition = definition_for_diagram()
    drawn = _ids_by_state(state_machine_mermaid(definition))
    assert set(state_names(definition)) <= set(drawn)
    # Serve's inner states included, both serving routes
    assert {"CreateProvisionedThroughput", "ValidateModel", "ProvisionedThroughputReady?"} <= set(drawn)
    assert {"ServingMode?", "CreateModelDeployment", "ModelDeploymentReady?", "StudentOnModelDeployment"} <= set(drawn)


def test_every_transition_of_the_definition_is_an_arrow_with_its_condition_or_errors() -> None:
    # Given the definition and its diagram
    definition = definition_for_diagram()
    mermaid = state_machine_mermaid(definition)
    ids = _ids_by_state(mermaid)
    # Then each Next, Default, choice and Catch is an arrow between the two states' nodes: choices labelled
    # with their condition, catchers dashed and labelled with the error names
    expected = {(ids[a], arrow, text, ids[b]) for a, arrow, text, b in _transitions(definition["States"])}
    assert expected <= _edges(mermaid)
    assert (ids["JobCompleted?"], "-->", "status = Completed", ids["CollectMetrics"]) in expected
    assert (ids["Serve"], "-.->", "States.ALL", ids["DeleteProvisionedThroughputAfterFailure"]) in expected
    assert (ids["ReleaseServing?"], "-->", "keepDeployment = true", ids["CreateEvaluationJobs"]) in expected


def test_the_parallel_block_is_a_subgraph_holding_its_branch_and_task_states_name_their_function() -> None:
    mermaid = state_machine_mermaid()
    block = mermaid.split('subgraph Serve ["Serve (Parallel)"]\n', 1)[1].split("\n    end\n")[0]
    assert 'CreateProvisionedThroughput["CreateProvisionedThroughput<br/>λ CreateProvisionedThroughput"]' in block
    assert "ValidateModel --> Serve_branch1_end" in mermaid
    assert 'GetJobStatus["GetJobStatus<br/>λ JobStatus"]' in mermaid
    assert "λ RegisterJobWaiter, then waits for its task token" in mermaid
    assert 'Failed(["Failed<br/>Fail"])' in mermaid
    assert 'Succeeded(["Succeeded<br/>Succeed"])' in mermaid


def test_names_mermaid_cannot_take_as_ids_or_labels_get_safe_ids_and_quoted_labels() -> None:
    # Given states named with `?`, quotes, parentheses, Mermaid keywords, a name that sanitizes like another,
    # a Map, a two-branch Parallel and an End
    definition = {
        "StartAt": "Ready?",
        "States": {
            "Ready?": {
                "Type": "Choice",
                "Choices": [
                    {"Not": {"Variable": "$.n", "NumericLessThan": 3}, "Next": "end"},
                    {
                        "And": [{"Variable": "$.a", "IsPresent": True}, {"Variable": "$.a", "BooleanEquals": False}],
                        "Next": "Ready",
                    },
                ],
                "Default": 'Say "hi" (#1)',
            },
            "Ready": {"Type": "Pass", "Next": "Each"},
            "Each": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "One", "States": {"One": {"Type": "Pass", "End": True}}},
                "Next": "Both",
            },
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Left", "States": {"Left": {"Type": "Succeed"}}},
                    {"StartAt": "Right", "States": {"Right": {"Type": "Wait", "Seconds": 5, "End": True}}},
                ],
                "Next": "end",
            },
            'Say "hi" (#1)': {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": True},
            "end": {"Type": "Fail", "Error": "Boom"},
        },
    }
    # When it is drawn
    mermaid = state_machine_mermaid(definition)
    ids = _ids_by_state(mermaid)
    # Then every state has its own id made of letters, digits and underscores, none a Mermaid keyword
    assert set(state_names(definition)) <= set(ids)
    assert len(set(ids.values())) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", node) for node in ids.values())
    assert ids["end"] != "end"
    assert ids["Ready?"] != ids["Ready"]
    # and every label is quoted, with the characters Mermaid reads as syntax written as entity codes
    assert '"Say #quot;hi#quot; (#35;1)<br/>sns:publish"' in mermaid
    assert label("<a>") == '"#lt;a#gt;"'
    # and the conditions, a Map and two branches are drawn
    assert "not (n #lt; 3)" in mermaid
    assert "a is present and a = false" in mermaid
    assert 'subgraph Each ["Each (Map: each item)"]' in mermaid
    assert 'subgraph Both_branch2 ["branch 2"]' in mermaid
    assert 'Right[/"Right<br/>Wait 5 s"/]' in mermaid
    # and each line is a node, subgraph, edge, class or `end` the patterns above recognize
    structural = re.compile(r"^\s*(flowchart TD|end|classDef \w+ .+|class [\w,]+ \w+)$")
    for line in mermaid.splitlines():
        assert NODE.match(line) or SUBGRAPH.match(line) or EDGE.match(line) or structural.match(line), line


def test_choice_conditions_read_as_short_labels() -> None:
    assert condition({"Variable": "$.job.status", "StringEquals": "Completed"}) == "status = Completed"
    assert (
        condition({"Or": [{"Variable": "$.s", "StringEquals": "A"}, {"Variable": "$.s", "StringEquals": "B"}]})
        == "s = A or s = B"
    )
    assert condition({"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.m"}) == "n ≥ $.m"
    assert condition({"Condition": "{% $states.input.ok %}"}) == "$states.input.ok"


def test_replacing_the_block_keeps_the_rest_of_the_readme_and_needs_both_markers() -> None:
    text = f"before\n{BEGIN_MARKER}\nold\n{END_MARKER}\nafter\n"
    mermaid = "flowchart TD\n"
    assert replace_block(text, mermaid) == f"before\n{readme_block(mermaid)}\nafter\n"
    with pytest.raises(ValueError, match="state-machine-diagram:end"):
        replace_block(f"before\n{BEGIN_MARKER}\n", "flowchart TD\n")


def test_make_diagram_rewrites_a_stale_block_and_leaves_a_current_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a README whose block is stale
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{BEGIN_MARKER}\nold\n{END_MARKER}\n")
    # When `make diagram` runs twice
    assert main(readme) == 0
    assert main(readme) == 0
    # Then the first run regenerated it and the second found it current
    assert readme_block(state_machine_mermaid()) in readme.read_text()
    assert capsys.readouterr().out.splitlines() == [
        "README.md: state-machine diagram regenerated from distillation.asl.json",
        "README.md: the state-machine diagram is current",
    ]


def test_the_architecture_diagram_shows_every_event_function_and_rule() -> None:
    # The hand-drawn architecture diagram must not lose a function that EventBridge runs.
    readme = README_FILE.read_text()
    block = readme.split(ARCHITECTURE_BEGIN, 1)[1].split(ARCHITECTURE_END, 1)[0]
    assert "```mermaid\nflowchart" in block
    for name in EVENT_FUNCTIONS:
        assert name in block, name
    for rule in ("Uploads", "JobEvents", "ExecutionEnds", "Sweep"):
        assert rule in block, rule
