"""Readable tables for the ``mpcc`` commands' results (the dicts mpcc.cli.commands returns).

Each function turns one JSON-friendly dict into ``rich`` renderables (plain
strings are printed without markup and without wrapping); ``--json`` prints the
dict itself instead. Cells are ``Text``, never markup: specs, names and tuple
keys such as ``input_mask[owner=0]`` come from elsewhere and hold brackets.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text


def _titled(title: str, table: Table) -> Group:
    """A table under its title (a line of its own: a table's title would wrap to the table's width)."""
    return Group(Text(title, style="bold"), table)


def _table(*columns: str) -> Table:
    table = Table()
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _pairs(title: str, rows: list[tuple[str, Any]]) -> Group:
    table = Table(show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, value if isinstance(value, Text) else Text(str(value)))
    return _titled(title, table)


def _mark(flag: bool) -> str:
    return "yes" if flag else "-"


def when(deadline: int, now: int) -> str:
    """A deadline relative to the chain's clock: ``in 59 min``, ``passed 2 s ago``."""
    delta = deadline - now
    amount = abs(delta)
    text = f"{amount} s" if amount < 120 else f"{amount // 60} min" if amount < 7200 else f"{amount // 3600} h"
    return f"in {text}" if delta >= 0 else f"passed {text} ago"


def _analysis(job: dict[str, Any]) -> str:
    """The analysis of a job, or that its spec on chain is malformed (a member proposed any string)."""
    return "malformed spec" if job.get("malformed") else job.get("analysis") or "?"


def job_status_view(status: dict[str, Any]) -> list[RenderableType]:
    n = len(status["participants"])
    state = status["state"] + (f" ({status['abort_reason']})" if status["state"] == "aborted" else "")
    d, now = status["deadlines"], status["chain_time"]
    declined = status.get("declined") or []
    if declined:
        state = "aborted (declined by " + ", ".join(f"{d['name']}: {d['reason'].replace('_', ' ')}"
                                                   for d in declined) + ")"
    rows: list[tuple[str, Any]] = [("state", state), ("analysis", _analysis(status))]
    for fault in status.get("named") or []:
        rows.append(("at fault", f"{fault['name']} ({fault['account']}), named by {', '.join(fault['by'])}; "
                                 f"members may vote to suspend it: mpcc org vote suspend {fault['account']}"))
    if status.get("malformed"):
        rows.append(("spec", f"malformed: {status['malformed']} (peers decline it)"))
    if status.get("title"):
        rows.append(("title", status["title"]))
    rows += [("reveals", ", ".join(status.get("reveal", [])) or "?"), ("proposer", status["proposer"]),
             ("progress", f"{status['accepted']} of {n} accepted, {status['committed']} committed inputs, "
                          f"{status['submitted']} posted results"),
             ("tuples", f"{status.get('reserved', 0)} reserved"
                        + (f", {status['released']} released" if status.get("released") else "")),
             ("accept by", when(d["accept_by"], now)), ("commit by", when(d["commit_by"], now)),
             ("results by", when(d["result_by"], now))]
    if status.get("gas"):
        rows.append(("gas", gas_text(status["gas"])))
    views: list[RenderableType] = [_pairs(f"Job {status['job']}", rows)]
    if status.get("members"):
        table = _table("party", "name", "account", "accepted", "committed")
        for i, m in enumerate(status["members"]):
            table.add_row(str(i), Text(m["name"]), m["account"], _mark(m["accepted"]), _mark(m["committed"]))
        views.append(_titled("Participants (party order)", table))
    return views


def gas_text(gas: dict[str, Any]) -> str:
    """``1,234,567 in 12 transactions (JobProposed 300,000, ...)``: a job's gas, by step in chain order."""
    steps = ", ".join(f"{step} {used:,}" for step, used in gas["by_step"].items())
    return f"{gas['total']:,} in {gas['transactions']} transactions" + (f" ({steps})" if steps else "")


def job_result_view(done: dict[str, Any]) -> Group:
    title = f"Result of job {done['job']}" + (f": {done['title']}" if done.get("title") else "")
    table = _table("item", "value")
    result: dict[str, str] = done["result"]
    analysis = done.get("analysis")
    rows = (_tree_rows(result) if analysis == "decision_tree" else _forest_rows(result)
            if analysis == "random_forest" else _test_first(result))
    for name, value in rows:
        table.add_row(Text(name), Text(str(value)))
    return _titled(title + (f" ({done['analysis']})" if done.get("analysis") else ""), table)


#: A statistical test's outcome, shown before its counts and group statistics.
_TEST_ITEMS = ("t", "df", "statistic", "dof", "p_value", "warning")


def _test_first(result: dict[str, str]) -> list[tuple[str, str]]:
    """The items of a result, a test's outcome (t_test, chi_square) first, then the rest in order."""
    head = [(k, result[k]) for k in _TEST_ITEMS if k in result]
    return head + [(k, v) for k, v in result.items() if k not in _TEST_ITEMS]


def _tree_rows(result: dict[str, str]) -> list[tuple[str, str]]:
    """A revealed tree (``node[a=x,b=y]: split:c | leaf:k``) in pre-order, each node indented by depth."""
    def path(key: str) -> tuple[str, ...]:
        inner = key.removeprefix("node[").removesuffix("]")
        return tuple(inner.split(",")) if inner else ()

    nodes = sorted((path(k), v) for k, v in result.items() if k.startswith("node["))
    rows = [("  " * (len(p) - 1) + p[-1] if p else "(root)", v) for p, v in nodes]
    return rows + [(k, v) for k, v in result.items() if not k.startswith("node[")]


def _forest_rows(result: dict[str, str]) -> list[tuple[str, str]]:
    """A revealed forest (``tree[j].node[...]``) tree by tree, each as ``_tree_rows`` shows a tree."""
    trees = sorted({int(k[5:k.index("]")]) for k in result if k.startswith("tree[") and "]." in k})
    rows = []
    for j in trees:
        prefix = f"tree[{j}]."
        nodes = _tree_rows({k[len(prefix):]: v for k, v in result.items() if k.startswith(prefix)})
        rows += [(f"tree {j}" if name == "(root)" else "  " + name, value) for name, value in nodes]
    return rows + [(k, v) for k, v in result.items() if not (k.startswith("tree[") and "]." in k)]


def job_list_view(jobs: list[dict[str, Any]]) -> Group:
    table = _table("job", "analysis", "title", "parties", "state", "proposer")
    for j in jobs:
        state = j["state"] + (f" ({j['abort_reason']})" if j["state"] == "aborted" else "")
        table.add_row(str(j["job"]), _analysis(j), Text(j["title"]), str(j["participants"]), state,
                      j["proposer"])
    return _titled("Jobs", table)


def plan_view(plan: dict[str, Any]) -> list[RenderableType]:
    reads = plan["reads"]
    rows: list[tuple[str, Any]] = [
        ("analysis", plan["analysis"]), ("title", plan["title"] or "-"),
        ("numeric columns", ", ".join(reads["numeric"]) or "-"),
        ("categorical columns", ", ".join(reads["categorical"]) or "-"),
        ("dataset", plan.get("dataset") or "default ([data])"),
        ("reveals", ", ".join(plan["reveal"])), ("participants", len(plan["participants"])),
        ("spec hash", plan["spec_hash"])]
    pre = plan["preprocessing"]
    rows.append(("tuples made by the members", pre["members"]["trusts"]))
    rows.append(("tuples from a dealer (development mode)", pre["dealer"]["trusts"]))
    audit = plan.get("auditable")
    if audit:
        extra = (f"; publishes {audit['tuple_commitments']:,} tuple commitments "
                 f"({audit['tuple_bytes'] / 1e6:.1f} MB) and the transcript of its openings"
                 if "tuple_commitments" in audit else "")
        rows.append(("auditable", audit["how"] + extra))
    needs = _table("tuple kind", "count")
    for key, n in plan["needs"].items():
        needs.add_row(Text(key), str(n))
    return [_pairs("Job plan", rows), _titled("Tuples one job consumes", needs),
            "stock for one such job (the peers' `make`, or a preprocessing service's `--stock`):",
            f"  {plan['stock']}"]


def peer_status_view(status: dict[str, Any]) -> list[RenderableType]:
    daemon = status["daemon"]
    running = (f"running, pid {daemon['pid']}, party {daemon['party']}, listening on {daemon['listen']}"
               if daemon["running"] else "not running")
    batches = status["batches"]
    tuples = status["tuples"]
    source = ("made by the members (no dealer)" if tuples["made_by"] == "members"
              else f"dealt by the preprocessing service at {tuples['service']} (dealer, a development mode)")
    rows: list[tuple[str, Any]] = [("account", status["account"]), ("daemon", running), ("tuples", source),
                                   ("cache", status["cache"]),
                                   ("batches", f"{batches['stored']} stored, {batches['attested']} attested")]
    loop, chain = daemon.get("loop") or {}, daemon.get("chain") or {}
    if daemon["running"] and loop and chain:
        rows.append(("event loop", f"longest stall {loop['longest_stall_s']:.3f} s; {chain['transactions']} "
                                   f"transactions, longest receipt wait {chain['longest_receipt_wait_s']:.1f} s"))
    head = _pairs(f"Peer {status['name']}", rows)
    stock = _table("tuple kind", "usable", "held here")
    held: dict[str, int] = status.get("held", status["stock"])
    for key in sorted(set(held) | set(status["stock"])):
        stock.add_row(Text(key), str(status["stock"].get(key, 0)), str(held.get(key, 0)))
    links = _table("for", "with")
    for label, link in status["connections"].items():
        links.add_row(Text(label), Text(", ".join(link["parties"])))
    jobs = _table("job", "analysis", "columns", "state", "here")
    for j in status["jobs"]:
        state = j["state"] + (f" ({j['abort_reason']})" if j["state"] == "aborted" else "")
        jobs.add_row(str(j["job"]), _analysis(j), ", ".join(j.get("columns") or [j.get("column") or ""]),
                     state, Text(j["local"] or "-"))
    stocked = _titled("Tuple stock (usable: attested by every member, not reserved)", stock) if held else None
    return [head, stocked or "tuple stock: none",
            _titled("Connections", links) if status["connections"] else "connections: none",
            _titled("Jobs this member takes part in", jobs) if status["jobs"] else "jobs: none"]
