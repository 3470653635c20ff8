"""Preflight and the Bedrock emulator read a request-metadata filter the same way.

Preflight predicts which invocation-log records a job will train on (`preflight/filters.py`); the emulator
selects them when it runs the job (`offline/bedrock_emulator/invocation_logs.py`). Each was written on its own, so a
change to one reading (what `notEquals` does with an absent key, say) must show here as a disagreement
instead of passing every test.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bedrock_distill.preflight.filters import check_filter, filter_matches
from offline.bedrock_emulator.invocation_logs import matches_filters

pytestmark = pytest.mark.unit

# Few keys and values, so filters and records often touch the same ones.
KEYS = st.sampled_from(["project", "split", "team"])
VALUES = st.sampled_from(["", "a", "b", "train"])
BASE_FILTERS = st.one_of(
    st.builds(lambda k, v: {"equals": {k: v}}, KEYS, VALUES),
    st.builds(lambda k, v: {"notEquals": {k: v}}, KEYS, VALUES),
)
FILTERS = st.one_of(
    BASE_FILTERS,
    st.builds(lambda items: {"andAll": items}, st.lists(BASE_FILTERS, min_size=1, max_size=4)),
    st.builds(lambda items: {"orAll": items}, st.lists(BASE_FILTERS, min_size=1, max_size=4)),
)
METADATA = st.dictionaries(KEYS, VALUES, max_size=3)


@given(document=FILTERS, metadata=METADATA)
def test_preflight_and_the_emulator_select_the_same_records(document: dict[str, Any], metadata: dict[str, str]) -> None:
    assert check_filter(document) == []  # only filters Bedrock accepts
    assert filter_matches(document, metadata) == matches_filters(document, metadata)


@pytest.mark.parametrize(
    ("document", "metadata", "selected"),
    [
        # An absent key is not equal to the value: notEquals selects the record, equals does not.
        ({"notEquals": {"split": "test"}}, {}, True),
        ({"equals": {"split": "test"}}, {}, False),
        ({"andAll": [{"equals": {"project": "a"}}, {"notEquals": {"split": "test"}}]}, {"project": "a"}, True),
        ({"orAll": [{"equals": {"project": "a"}}, {"equals": {"project": "b"}}]}, {"project": "c"}, False),
    ],
)
def test_both_readings_on_the_cases_that_differ_most_easily(
    document: dict[str, Any], metadata: dict[str, str], selected: bool
) -> None:
    assert filter_matches(document, metadata) is selected
    assert matches_filters(document, metadata) is selected
