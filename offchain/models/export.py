"""The model export format: one JSON object per model, version 1 (docs/reference/models.md).

    {"format": "mpcc-model", "version": 1, "type": "decision_tree",
     "job": 7, "result_hash": "0x...",
     "features": [{"name": "smoker", "kind": "categorical", "values": ["no", "yes"]}, ...],
     "target": {"name": "risk", "kind": "categorical", "values": ["low", "high"]},
     "parameters": {...},                    the model's numbers, per type
     "spec": {...}, "result": {...}}         the job's spec and revealed result, as on chain

``parameters`` is for readers in any language; ``spec`` and ``result`` are the
source of truth. ``load`` rebuilds the model from them and refuses a file
whose features, target or parameters differ from the rebuilt model's (an
edited file), so a loaded model predicts exactly as the job's model does.
Nothing is ever unpickled: a file is JSON, read within size and depth limits.
"""

from __future__ import annotations

import json
from typing import Any, Final

from offchain.analytics.spec import JobSpec, check_json_limits
from offchain.errors import ConfigError
from offchain.models.model import MODEL_ANALYSES, Model, model_of

FORMAT: Final = "mpcc-model"
VERSION: Final = 1
#: The largest export read: far above any model a job can reveal.
MAX_EXPORT_BYTES: Final = 16 * 1024 * 1024


def export(model: Model, job: int | None = None, result_hash: str | None = None) -> dict[str, Any]:
    """The model as a JSON-ready object of the version-1 schema."""
    return {"format": FORMAT, "version": VERSION, "type": model.analysis, "job": job, "result_hash": result_hash,
            **_derived(model), "spec": json.loads(model.spec.canonical()), "result": dict(model.result)}


def dumps(model: Model, job: int | None = None, result_hash: str | None = None) -> str:
    """The export as indented JSON text."""
    return json.dumps(export(model, job, result_hash), indent=2, ensure_ascii=False) + "\n"


def loads(text: str, source: str = "model file") -> Model:
    """A model from export text; ``ConfigError`` naming ``source`` and what is wrong."""
    check_json_limits(text, source, max_bytes=MAX_EXPORT_BYTES)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{source}: not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}") from err
    return load(data, source)


def load(data: Any, source: str = "model file") -> Model:
    """A model from a parsed export, rebuilt from its spec and result and checked against the rest."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{source}: not an mpcc model export (\"format\" is not {FORMAT!r}); "
                          "make one with `mpcc model export JOB --out FILE`")
    if data.get("version") != VERSION:
        raise ConfigError(f"{source}: model export version {data.get('version')!r}; this mpcc reads version "
                          f"{VERSION}")
    if data.get("type") not in MODEL_ANALYSES:
        raise ConfigError(f"{source}: unknown model type {data.get('type')!r}; one of {', '.join(MODEL_ANALYSES)}")
    result = data.get("result")
    if not isinstance(data.get("spec"), dict) or not isinstance(result, dict) or \
            not all(isinstance(k, str) and isinstance(v, str) for k, v in result.items()):
        raise ConfigError(f"{source}: \"spec\" must be the job's spec object and \"result\" its map of strings")
    try:
        spec = JobSpec.parse(json.dumps(data["spec"]))
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from err
    if spec.analysis != data["type"]:
        raise ConfigError(f"{source}: the type is {data['type']} but the spec's analysis is {spec.analysis}")
    try:
        model = model_of(spec, result)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from err
    for key, want in _derived(model).items():
        if _plain(data.get(key)) != _plain(want):
            raise ConfigError(f"{source}: {key!r} differs from the model its spec and result give; the file was "
                              "edited: export it again from the job")
    return model


def _derived(model: Model) -> dict[str, Any]:
    """The parts of an export that follow from the spec and the result."""
    features: list[dict[str, Any]] = [{"name": n, "kind": "numeric"} for n in model.numeric]
    features += [{"name": n, "kind": "categorical", "values": list(d)} for n, d in model.categorical.items()]
    return {"features": features, "target": model.target(), "parameters": model.parameters()}


def _plain(value: Any) -> Any:
    """A JSON value as JSON reads it back (tuples as lists), for comparison."""
    return json.loads(json.dumps(value))
