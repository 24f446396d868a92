"""Job specs: what a job computes over which columns, and exactly what it reveals.

A spec is canonical JSON (sorted keys, no spaces, UTF-8); its keccak-256 is
what JobManager stores, and its text is what JobManager's JobProposed event
carries. Participants are listed in party order: the i-th address is party i
of the computation.

Everything a computation's shape depends on is public and in the spec, so
that every party derives the same tuple needs before the job starts: the
columns read, the domain of each categorical column (its values, in order),
histogram bin edges, and ``max_rows``, the most rows any one party may hold
(checked on reading; for the per-row protocols still to come).
Fields added after version 1 (``columns`` onward) are left out of the
canonical text while they hold their defaults, so a count/sum/mean spec keeps
the text and hash it always had.

A ``JobSpec`` checks every rule that reads the spec alone: fields, what may
be revealed, which columns each analysis reads and of which type, and which
parameters it takes. The rules that depend on an analysis's protocol (its
bounds, its noise) live with that analysis, and
offchain.analytics.registry applies them: ``registry.parse_spec`` is the
parse that checks everything.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from offchain.errors import ConfigError

SPEC_VERSION: Final = 1
#: The most rows one party may hold in any job (max_rows, and the bound a count is checked against).
MAX_ROWS = 10**7

#: The largest spec text read (UTF-8 bytes), from a file or from the chain: far above any real spec.
MAX_SPEC_BYTES: Final = 256 * 1024
#: The deepest nesting of arrays and objects read; a spec nests 4 levels (params, domains).
MAX_JSON_DEPTH: Final = 32
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

#: The first analyses, which reveal exactly these values (the peer's CLI builds specs from it).
REVEALS: dict[str, tuple[str, ...]] = {
    "count": ("count",),
    "sum": ("sum",),
    "mean": ("count", "mean"),
}

#: What each analysis may reveal; a spec names a non-empty subset (the first three: exactly).
ALLOWED: dict[str, frozenset[str]] = {
    **{name: frozenset(items) for name, items in REVEALS.items()},
    "summary": frozenset({"count", "sum", "mean", "variance", "std", "sample_variance", "sample_std",
                          "min", "max"}),
    "histogram": frozenset({"counts"}),
    "frequency": frozenset({"counts"}),
    "covariance": frozenset({"covariance", "sample_covariance"}),
    "correlation": frozenset({"correlation"}),
    "linear_regression": frozenset({"coefficients", "intercept"}),
    "naive_bayes": frozenset({"counts"}),
    "gaussian_naive_bayes": frozenset({"count", "mean", "variance"}),
    "decision_tree": frozenset({"tree"}),
    "random_forest": frozenset({"forest"}),
    "kmeans": frozenset({"centroids", "sizes", "iterations"}),
    "t_test": frozenset({"t", "df", "p_value", "count", "mean", "variance"}),
    "chi_square": frozenset({"statistic", "dof", "p_value", "counts"}),
    "logistic_regression": frozenset({"coefficients", "intercept"}),
    "svm": frozenset({"coefficients", "intercept"}),
}
#: Reveal items an analysis cannot do without (a model is revealed whole).
REQUIRED: dict[str, frozenset[str]] = {
    "linear_regression": frozenset({"coefficients"}),
    "gaussian_naive_bayes": frozenset({"count", "mean", "variance"}),
    "decision_tree": frozenset({"tree"}),
    "random_forest": frozenset({"forest"}),
    "kmeans": frozenset({"centroids"}),
    "t_test": frozenset({"t", "df", "p_value"}),
    "chi_square": frozenset({"statistic", "dof", "p_value"}),
    "logistic_regression": frozenset({"coefficients", "intercept"}),
    "svm": frozenset({"coefficients", "intercept"}),
}
Analysis = Literal["count", "sum", "mean", "summary", "histogram", "frequency", "covariance",
                   "correlation", "linear_regression", "naive_bayes", "gaussian_naive_bayes", "decision_tree",
                   "kmeans", "t_test", "chi_square", "logistic_regression", "svm", "random_forest"]
#: The linear classifiers trained by gradient descent (offchain.analytics.classifiers).
CLASSIFIERS: Final = ("logistic_regression", "svm")
_NEW_FIELDS: dict[str, object] = {"column": "", "columns": (), "group_by": None, "label": None, "domains": {},
                                  "max_rows": None, "params": {}, "auditable": False, "dataset": None}


class FixedPoint(BaseModel):
    """Signed k-bit fixed-point numbers scaled by 2^f."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    k: int = Field(64, ge=16, le=128)
    f: int = Field(20, ge=0, le=60)

    @model_validator(mode="after")
    def _fits(self) -> FixedPoint:
        if self.f >= self.k:
            raise ValueError(f"f={self.f} must be below k={self.k}")
        return self


class Params(BaseModel):
    """Parameters of the analyses; each analysis reads the ones it documents."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ddof: Literal[0, 1] = 0                       # variance/std divisor n - ddof (summary, covariance);
                                                  # sample_variance, sample_std always divide by n - 1
    bins: tuple[float, ...] = ()                  # histogram edges, increasing
    smoothing: float = Field(1.0, ge=0)           # naive Bayes Laplace smoothing (prediction)
    max_depth: int | None = Field(None, ge=1, le=16)  # decision tree depth (levels of splits)
    criterion: Literal["gini", "entropy"] = "gini"  # tree split rule; entropy: information gain
    trees: int | None = Field(None, ge=1, le=64)  # random forest: trees grown
    max_features: int | None = Field(None, ge=1, le=32)  # random forest: candidates drawn per node
    centroids: tuple[tuple[float, ...], ...] = ()  # k-means initial centroids (public)
    init: Literal["centroids", "kmeans++"] = "centroids"  # k-means seeding: params.centroids or k-means++
    clusters: int | None = Field(None, ge=2, le=16)  # k-means: K, required by init "kmeans++"
    tolerance: float | None = Field(None, allow_inf_nan=False)  # k-means: stop once no centroid moves more
    n_init: int = Field(1, ge=1, le=10)           # k-means++: runs, the one of least inertia kept
    iterations: int = Field(0, ge=0, le=50)       # k-means Lloyd iterations; classifiers' descent steps
    learning_rate: float | None = Field(None, gt=0, le=10)  # classifiers: step on the summed gradient
    regularization: float = Field(0.0, ge=0, le=100)  # classifiers: L2 penalty lambda on the weights
    ridge: float = Field(0.0, ge=0, le=100)       # regression: lambda, solve (R + lambda I) g = r_y
    epsilon: float | None = None                  # differential privacy (offchain.analytics.privacy)
    clip_lower: float | None = Field(None, allow_inf_nan=False)  # with epsilon: each party clips
    clip_upper: float | None = Field(None, allow_inf_nan=False)  # its values to [lower, upper]
    minmax_bins: int = Field(32, ge=2, le=256)    # with epsilon: a summary's min/max histogram

    @model_validator(mode="after")
    def _clip_order(self) -> Params:
        lo, hi = self.clip_lower, self.clip_upper
        if lo is not None and hi is not None and not lo < hi:
            raise ValueError(f"clip_lower must be below clip_upper, got [{lo}, {hi}]")
        return self


def _check_name(value: str, what: str = "column name") -> str:
    if not _COLUMN.match(value):
        raise ValueError(f"{what} {value!r} must be a letter or _ then letters, digits or _")
    return value


class JobSpec(BaseModel):
    """An analysis over named columns of the participants' data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = SPEC_VERSION
    analysis: Analysis
    column: str = ""
    participants: tuple[str, ...]
    reveal: tuple[str, ...]
    fixed_point: FixedPoint = FixedPoint()
    title: str = ""
    columns: tuple[str, ...] = ()
    group_by: str | None = None
    label: str | None = None
    domains: dict[str, tuple[str, ...]] = {}
    max_rows: int | None = Field(None, ge=1, le=MAX_ROWS)
    params: Params = Params()
    auditable: bool = False  # Pedersen-committed shares, result verified on chain (offchain.auditable)
    dataset: str | None = None  # each party's dataset the columns are read from; None: its default one

    @field_validator("column")
    @classmethod
    def _column(cls, value: str) -> str:
        return _check_name(value) if value else value

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, value: str | None) -> str | None:
        return None if value is None else _check_name(value, "dataset name")

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            _check_name(name)
        if len(set(value)) != len(value):
            raise ValueError("columns must be distinct")
        return value

    @field_validator("domains", mode="before")
    @classmethod
    def _integer_values(cls, value: object) -> object:
        """Integer values (class labels 0 and 1, say) are taken as their decimal text, as cells are read."""
        if not isinstance(value, dict):
            return value
        out: dict[object, object] = {}
        for name, domain in value.items():
            if isinstance(domain, list | tuple):
                for v in domain:
                    if isinstance(v, float | bool):
                        raise ValueError(f"domain of {name!r}: {json.dumps(v)} is not a category; write "
                                         "categories as strings (or integers, which are read as their digits)")
                domain = [str(v) if isinstance(v, int) else v for v in domain]
            out[name] = domain
        return out

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for name, domain in value.items():
            _check_name(name)
            if not 1 <= len(domain) <= 64 or len(set(domain)) != len(domain):
                raise ValueError(f"domain of {name!r} needs 1 to 64 distinct values")
            if any(not v.strip() or v != v.strip() for v in domain):
                raise ValueError(f"domain of {name!r} has an empty or padded value")
        return value

    @field_validator("participants")
    @classmethod
    def _participants(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not 2 <= len(value) <= 32:
            raise ValueError(f"a job needs 2 to 32 participants, got {len(value)}")
        bad = [a for a in value if not _ADDRESS.match(a)]
        if bad:
            raise ValueError(f"participant {bad[0]!r} is not an Ethereum address")
        if len({a.lower() for a in value}) != len(value):
            raise ValueError("participants must be distinct")
        return value

    @model_validator(mode="after")
    def _reveal(self) -> JobSpec:
        if self.analysis in REVEALS:
            allowed = REVEALS[self.analysis]
            if tuple(sorted(self.reveal)) != tuple(sorted(allowed)):
                raise ValueError(f"analysis {self.analysis!r} reveals exactly {list(allowed)}, "
                                 f"the spec says {list(self.reveal)}")
            if not self.column:
                raise ValueError(f"analysis {self.analysis!r} needs a column")
            return self
        allowed_set = ALLOWED[self.analysis]
        extra = sorted(set(self.reveal) - allowed_set)
        if extra:
            raise ValueError(f"analysis {self.analysis!r} may reveal only {sorted(allowed_set)}; "
                             f"the spec also asks for {extra}")
        missing = sorted(REQUIRED.get(self.analysis, frozenset()) - set(self.reveal))
        if not self.reveal or missing or len(set(self.reveal)) != len(self.reveal):
            raise ValueError(f"analysis {self.analysis!r} must reveal distinct items of "
                             f"{sorted(allowed_set)}, including {missing or 'at least one'}")
        _check_shape(self)
        return self

    def canonical(self) -> str:
        """The canonical JSON text whose keccak-256 goes on chain."""
        data = self.model_dump(mode="json")
        data["params"] = self.params.model_dump(mode="json", exclude_defaults=True)
        for name, default in _NEW_FIELDS.items():
            if data[name] in (default, list(default) if isinstance(default, tuple) else default):
                del data[name]
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def party_of(self, address: str) -> int:
        """This address's party index; ``ConfigError`` if it does not take part."""
        lowered = [a.lower() for a in self.participants]
        if address.lower() not in lowered:
            raise ConfigError(f"{address} is not a participant of this job")
        return lowered.index(address.lower())

    def domain(self, column: str) -> tuple[str, ...]:
        """The declared values of a categorical column."""
        return self.domains[column]

    @classmethod
    def parse(cls, text: str) -> JobSpec:
        """A spec from its JSON text; ``ConfigError`` naming the first problem."""
        check_json_limits(text, "job spec")
        try:
            return cls.model_validate_json(text)
        except ValidationError as err:
            raise _invalid(err) from err

    @classmethod
    def build(cls, **fields: Any) -> JobSpec:
        """A spec from keyword fields; ``ConfigError`` (not pydantic's error) naming the problem."""
        try:
            return cls.model_validate(fields)
        except ValidationError as err:
            raise _invalid(err) from err


def check_json_limits(text: str, what: str, *, max_bytes: int = MAX_SPEC_BYTES,
                      max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuses JSON text too large or too deeply nested, before any parser recurses into it.

    The depth is counted over brackets outside strings, in one pass, so that no
    input, however nested, reaches a recursive parser.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ConfigError(f"{what}: {size} bytes of JSON, more than the {max_bytes} allowed; "
                          "a job spec is a small JSON object")
    depth = _json_depth(text, max_depth)
    if depth > max_depth:
        raise ConfigError(f"{what}: JSON nested more than {max_depth} levels deep; "
                          "a job spec nests a few levels at most")


def _json_depth(text: str, stop_above: int) -> int:
    """The deepest nesting of ``[`` and ``{`` outside strings (counting stops above ``stop_above``)."""
    depth = deepest = 0
    # Strings (with their escapes) are cut out first, so the brackets left are structure.
    for bracket in re.findall(r"[\[\]{}]", re.sub(r'"(?:[^"\\]|\\.)*"', "", text)):
        if bracket in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_above:
                    break
        elif bracket in "]}":
            depth -= 1
    return deepest


def load_json(text: str, what: str) -> Any:
    """JSON text within the spec limits (``check_json_limits``), parsed; ``ConfigError`` naming ``what``."""
    check_json_limits(text, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{what}: not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}") from err


def _invalid(err: ValidationError) -> ConfigError:
    """pydantic's first complaint as a ConfigError naming the field."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "spec"
    return ConfigError(f"invalid job spec: {where}: {first['msg'].replace('Value error, ', '')}")


# Which columns an analysis reads ----------------------------------------------------------------
# Numeric columns hold fixed-point values; categorical columns hold one of the
# values their spec domain declares (compared as stripped strings).
#: Analyses whose work is sized by max_rows (they need it in the spec).
PER_ROW = ("decision_tree", "kmeans", "random_forest", *CLASSIFIERS)
#: Analyses of ID3 trees over categorical features (offchain.analytics.tree and .forest).
TREES = ("decision_tree", "random_forest")


def numeric_columns(spec: JobSpec) -> tuple[str, ...]:
    """The numeric columns ``spec`` reads, in spec order."""
    if spec.analysis in ("count", "sum", "mean"):
        return (spec.column,)
    if spec.analysis in ("summary", "histogram", "covariance", "correlation",
                         "gaussian_naive_bayes", "kmeans", "t_test", *CLASSIFIERS):
        return spec.columns
    if spec.analysis == "linear_regression":
        return (*spec.columns, spec.label or "")
    return ()


def categorical_columns(spec: JobSpec) -> tuple[str, ...]:
    """The categorical columns ``spec`` reads (features first, then the label or group)."""
    if spec.analysis in ("frequency", "chi_square"):
        return spec.columns
    if spec.analysis in ("naive_bayes", *TREES):
        return (*spec.columns, spec.label or "")
    if spec.analysis in ("gaussian_naive_bayes", *CLASSIFIERS):
        return (spec.label or "",)
    if spec.analysis in ("summary", "histogram", "t_test") and spec.group_by:
        return (spec.group_by,)
    return ()


def group_of(spec: JobSpec) -> str | None:
    """The categorical column statistics are grouped by (the class for Gaussian naive Bayes)."""
    return spec.label if spec.analysis == "gaussian_naive_bayes" else spec.group_by


def _check_shape(spec: JobSpec) -> None:
    """The columns and parameters of a spec (after the reveal rules); ValueError names the problem."""
    name = spec.analysis
    if spec.column:
        raise ValueError(f"analysis {name!r} reads 'columns', not 'column'")
    if name in PER_ROW and spec.max_rows is None:
        raise ValueError(f"analysis {name!r} needs max_rows, the most rows a party may hold: "
                         "its work is sized by it")
    _expect(spec, group=name in ("summary", "histogram", "t_test"),
            label=name in ("linear_regression", "naive_bayes", "gaussian_naive_bayes", *TREES, *CLASSIFIERS))
    low = {"covariance": 2, "correlation": 2, "frequency": 1, "histogram": 1, "chi_square": 2}.get(name, 1)
    high = {"histogram": 1, "frequency": 2, "t_test": 1, "chi_square": 2}.get(name, 32)
    if name == "summary" and set(spec.reveal) == {"count"}:
        low = 0
    if not low <= len(spec.columns) <= high:
        raise ValueError(f"analysis {name!r} reads {low} to {high} columns, got {len(spec.columns)}")
    used = set(numeric_columns(spec)) | set(categorical_columns(spec))
    if len(used) != len(numeric_columns(spec)) + len(categorical_columns(spec)):
        raise ValueError("a column is used twice (a feature is also the label or group)")
    for column in categorical_columns(spec):
        if column not in spec.domains:
            raise ValueError(f"categorical column {column!r} needs a domain in 'domains'")
    _check_test(spec)
    _check_params(spec)


def _check_test(spec: JobSpec) -> None:
    """A t-test compares the two values of its group; a chi-square test needs two values per column."""
    if spec.analysis == "t_test":
        if not spec.group_by:
            raise ValueError("analysis 't_test' needs group_by: the categorical column whose two "
                             "values split the rows into the groups compared")
        if len(spec.domain(spec.group_by)) != 2:
            raise ValueError(f"analysis 't_test' compares two groups: the domain of group_by "
                             f"{spec.group_by!r} must list exactly 2 values, it lists "
                             f"{len(spec.domain(spec.group_by))}")
    if spec.analysis in CLASSIFIERS and len(spec.domain(spec.label or "")) != 2:
        raise ValueError(f"analysis {spec.analysis!r} is a binary classifier: the domain of its label "
                         f"{spec.label!r} must list exactly 2 values (the second is the positive "
                         f"class), it lists {len(spec.domain(spec.label or ''))}")
    if spec.analysis == "chi_square":
        for column in spec.columns:
            if len(spec.domain(column)) < 2:
                raise ValueError(f"analysis 'chi_square' needs at least 2 values in the domain of "
                                 f"{column!r}, it lists 1")


def _expect(spec: JobSpec, *, group: bool, label: bool) -> None:
    if spec.group_by and not group:
        raise ValueError(f"analysis {spec.analysis!r} takes no group_by")
    if label != bool(spec.label):
        raise ValueError(f"analysis {spec.analysis!r} {'needs' if label else 'takes no'} a label")


def _check_params(spec: JobSpec) -> None:
    p = spec.params
    if spec.analysis == "histogram":
        if len(p.bins) < 2 or any(b <= a for a, b in itertools.pairwise(p.bins)):
            raise ValueError("a histogram needs at least two increasing bin edges in params.bins")
    elif p.bins:
        raise ValueError("params.bins is for histograms only")
    if spec.analysis not in TREES and (p.max_depth is not None or p.criterion != "gini"):
        raise ValueError("params.max_depth and params.criterion are for decision trees only "
                         "(decision_tree and random_forest)")
    if spec.analysis != "random_forest" and (p.trees is not None or p.max_features is not None):
        raise ValueError("params.trees and params.max_features are for random forests only")
    if spec.analysis != "kmeans" and (p.centroids or p.init != "centroids" or p.clusters is not None
                                      or p.tolerance is not None or p.n_init != 1):
        raise ValueError("params.centroids, params.init, params.clusters, params.tolerance and "
                         "params.n_init are for k-means only")
    if spec.analysis not in ("kmeans", *CLASSIFIERS) and p.iterations:
        raise ValueError("params.iterations is for k-means and the classifiers (logistic_regression, "
                         "svm) only")
    if spec.analysis not in CLASSIFIERS and (p.learning_rate is not None or p.regularization):
        raise ValueError("params.learning_rate and params.regularization are for logistic_regression "
                         "and svm only")
    if p.ridge and spec.analysis != "linear_regression":
        raise ValueError("params.ridge is for linear regression only")
