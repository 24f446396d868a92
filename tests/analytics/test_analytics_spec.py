"""Job specs: the first form keeps its canonical text; new analyses, their rules and reveals."""

from __future__ import annotations

import pytest

from offchain.analytics import registry
from offchain.analytics.spec import FixedPoint, JobSpec
from offchain.errors import ConfigError
from analytics_testkit import PARTIES, spec


def test_mean_spec_keeps_its_canonical_text() -> None:
    """A spec written with the old default k=64, f=20 keeps its text and hash; one that leaves the
    format out means the current default, which its canonical text spells out."""
    old = ('{"analysis":"mean","column":"income","fixed_point":{"f":20,"k":64},"participants":['
           + ",".join(f'"{p}"' for p in PARTIES) + '],"reveal":["count","mean"],"title":"","version":1}')
    s = JobSpec(analysis="mean", column="income", participants=PARTIES, reveal=("count", "mean"),
                fixed_point={"k": 64, "f": 20})
    assert s.canonical() == old
    assert registry.parse_spec(s.canonical()) == s
    default = JobSpec(analysis="mean", column="income", participants=PARTIES, reveal=("count", "mean"))
    d = FixedPoint()
    assert default.canonical() == old.replace('{"f":20,"k":64}', f'{{"f":{d.f},"k":{d.k}}}')
    assert registry.parse_spec(default.canonical()) == default


def test_new_specs_round_trip_canonically() -> None:
    s = spec(analysis="naive_bayes", columns=("a", "b"), label="y", max_rows=50,
             domains={"a": ("x", "y"), "b": ("p", "q", "r"), "y": ("no", "yes")},
             params={"smoothing": 0.5}, reveal=("counts",))
    text = s.canonical()
    assert registry.parse_spec(text) == s and registry.parse_spec(text).canonical() == text
    assert '"params":{"smoothing":0.5}' in text and "group_by" not in text


@pytest.mark.parametrize("fields, message", [
    (dict(analysis="summary", columns=("x",), reveal=("mean", "rows")), "may reveal only"),
    (dict(analysis="mean", column="x", reveal=("count", "mean", "sum")), "reveals exactly"),
    (dict(analysis="linear_regression", columns=("x",), label="y", reveal=("intercept",)),
     "including"),
    (dict(analysis="summary", columns=("x",), group_by="g", reveal=("mean",)), "needs a domain"),
    (dict(analysis="histogram", columns=("x",), reveal=("counts",)), "bin edges"),
    (dict(analysis="correlation", columns=("x",), reveal=("correlation",)), "2 to 32 columns"),
    (dict(analysis="naive_bayes", columns=("x",), label="x", domains={"x": ("a",)},
          reveal=("counts",)), "used twice"),
    (dict(analysis="decision_tree", columns=("a",), label="y", reveal=("tree",)), "analysis"),
])
def test_specs_that_reveal_too_much_or_lack_shape_are_refused(fields: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        registry.build_spec(participants=PARTIES, **fields)


def test_integer_class_labels_are_read_as_their_digits_and_match_the_cells() -> None:
    s = spec(analysis="naive_bayes", columns=("smoker",), label="risk",
             domains={"smoker": ["no", "yes"], "risk": [0, 1]}, reveal=("counts",))
    assert s.domains["risk"] == ("0", "1")
    assert JobSpec.parse(s.canonical()) == s  # The canonical text holds the strings.
    table = registry.table_from_columns(s, {"smoker": ["no", "yes", "yes"], "risk": ["0", "1", "1"]})
    assert table.codes["risk"].tolist() == [0, 1, 1]
    for bad in ([0.5, 1], [True, False]):
        with pytest.raises(ConfigError, match="is not a category; write categories as strings"):
            registry.build_spec(analysis="naive_bayes", columns=("smoker",), label="risk", participants=PARTIES,
                                domains={"smoker": ["no", "yes"], "risk": bad}, reveal=("counts",))
