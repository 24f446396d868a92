"""The explorer in a real browser against a finished consortium story on `npx hardhat node`.

Every page is opened in headless Chromium, what it shows is checked against
the CLI's ``--json`` for the same thing (the installed ``mpcc`` entry point),
links are followed, and each page is saved as a screenshot under
tests/artifacts/explorer/. The JSON API is compared with the CLI field for
field. A job whose transcript was forged on chain shows its failing audit
step in red.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from explorer_story import CHROMEDRIVER, CHROMIUM, ROOT, Story, screenshot
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

pytestmark = [pytest.mark.hardhat, pytest.mark.timeout(900)]

RED = "rgba(197, 48, 48, 1)"  # var(--bad) in the explorer's style.css


def api(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


def rows(driver: webdriver.Chrome, table: str) -> list[list[str]]:
    """The text of a table's cells, read in one script: a live update may swap the page between two reads."""
    return list(driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map("
        "r => Array.from(r.querySelectorAll('td')).map(c => c.innerText.trim()))", f"#{table} tbody tr"))


def without_clock(status: dict[str, Any]) -> dict[str, Any]:
    """A job status but the chain time (it moves with every block)."""
    return {k: v for k, v in status.items() if k != "chain_time"}


# The JSON API says what the CLI says -------------------------------------------------------

def test_the_json_api_returns_what_the_cli_prints(story: Story, explorer: str) -> None:
    jobs = (story.finalised, story.auditable, story.tampered, story.aborted)
    story.prefetch(("org", "members"), ("job", "list"), *[("job", "status", str(j)) for j in jobs],
                   *[("job", "result", str(j)) for j in jobs[:3]])
    story.prefetch(*[("audit", str(j)) for j in jobs], codes=(0, 1))
    assert api(f"{explorer}/api/members") == story.cli_json("org", "members")
    assert api(f"{explorer}/api/jobs") == story.cli_json("job", "list")
    for job in (story.finalised, story.auditable, story.tampered, story.aborted):
        assert without_clock(api(f"{explorer}/api/jobs/{job}")) == without_clock(
            story.cli_json("job", "status", str(job)))
        assert api(f"{explorer}/api/jobs/{job}/audit") == story.cli_json("audit", str(job), codes=(0, 1))
    for job in (story.finalised, story.auditable, story.tampered):
        assert api(f"{explorer}/api/jobs/{job}/result") == story.cli_json("job", "result", str(job))
    with pytest.raises(urllib.error.HTTPError) as missing:
        api(f"{explorer}/api/jobs/{story.aborted}/result")
    assert missing.value.code == 404 and "not finalised" in json.loads(missing.value.read())["error"]


def test_the_api_filters_jobs_and_rebuilds_the_registry_at_a_block(story: Story, explorer: str) -> None:
    assert [j["job"] for j in api(f"{explorer}/api/jobs?state=aborted")] == [story.aborted]
    assert [j["job"] for j in api(f"{explorer}/api/jobs?analysis=summary")] == [story.tampered]
    # Every job names Party A; Party C was suspended after the jobs, so it takes part in all of them too.
    assert len(api(f"{explorer}/api/jobs?participant=party%20c")) == 4
    assert api(f"{explorer}/api/jobs?since=2999-01-01") == []
    now = api(f"{explorer}/api/consortium")
    statuses = {m["name"]: m["status"] for m in now["members"]}
    assert statuses == {"Party A": "active", "Party B": "active", "Party C": "suspended"}
    suspension = next(h for h in now["history"] if h["event"] == "MemberSuspended")
    before = api(f"{explorer}/api/consortium?block={suspension['block'] - 1}")
    assert {m["name"]: m["status"] for m in before["members"]}["Party C"] == "active"
    assert before["block"] == suspension["block"] - 1 and now["block"] == now["head"]


# Pages in the browser ---------------------------------------------------------------------

def test_consortium_page_shows_members_roles_and_history(story: Story, explorer: str, browser: webdriver.Chrome,
                                                         artifacts: Path) -> None:
    browser.get(explorer + "/")
    cli = story.cli_json("org", "members")
    shown = rows(browser, "members")
    assert [(r[0], r[1], r[2], r[6]) for r in shown] == [(m["name"], m["account"], m["endpoint"], m["status"])
                                                         for m in cli]
    suspended = browser.find_element(By.ID, f"member-{story.suspended}")
    assert "status-suspended" in suspended.get_attribute("class")
    events = [r[2] for r in rows(browser, "history")]
    for event in ("MemberBootstrapped", "JoinRequested", "JoinApproved", "MemberAdmitted", "SuspensionVoted",
                  "MemberSuspended"):
        assert event in events
    screenshot(browser, artifacts / "consortium.png")
    # A block of the history shows the consortium as it stood there: Party C still active.
    history = browser.find_elements(By.CSS_SELECTOR, "#history tr[data-event='SuspensionVoted'] a")
    history[0].click()
    assert "at block" in browser.find_element(By.TAG_NAME, "h1").text
    assert rows(browser, "members")[2][6] == "active"
    screenshot(browser, artifacts / "consortium-at-block.png")


def test_jobs_page_lists_every_job_and_filters_them(story: Story, explorer: str, browser: webdriver.Chrome,
                                                    artifacts: Path) -> None:
    browser.get(explorer + "/jobs")
    cli = story.cli_json("job", "list")
    shown = rows(browser, "jobs")
    assert [(int(r[0]), r[1], r[2], int(r[3])) for r in shown] == [
        (j["job"], j["analysis"], j["title"], j["participants"]) for j in cli]
    assert [r[4].split(" ")[0] for r in shown] == [j["state"] for j in cli]
    screenshot(browser, artifacts / "jobs.png")
    Select(browser.find_element(By.NAME, "state")).select_by_value("aborted")
    browser.find_element(By.CSS_SELECTOR, ".filters button").click()
    WebDriverWait(browser, 20).until(lambda d: "state=aborted" in d.current_url)
    assert [int(r[0]) for r in rows(browser, "jobs")] == [story.aborted]
    assert browser.find_element(By.ID, "count").text == "1 of 4 jobs."
    browser.find_element(By.CSS_SELECTOR, f"#jobs a[href='/jobs/{story.aborted}']").click()
    assert browser.current_url.endswith(f"/jobs/{story.aborted}")
    assert "declined by" in browser.find_element(By.ID, "state").text


def test_a_finalised_job_page_shows_spec_participants_result_timeline_and_audit(
        story: Story, explorer: str, browser: webdriver.Chrome, artifacts: Path) -> None:
    job = story.auditable
    browser.get(f"{explorer}/jobs/{job}")
    status, result = story.cli_json("job", "status", str(job)), story.cli_json("job", "result", str(job))
    audit = story.cli_json("audit", str(job), codes=(0, 1))
    assert browser.find_element(By.ID, "state").text == "finalised"
    assert browser.find_element(By.ID, "progress").text == "3 of 3 accepted, 3 committed inputs, 3 posted results"
    assert [r[1] for r in rows(browser, "participants")] == [m["name"] for m in status["members"]]
    assert {r.find_element(By.TAG_NAME, "th").text: r.find_element(By.TAG_NAME, "td").text
            for r in browser.find_elements(By.CSS_SELECTOR, "#result tr")} == result["result"]
    assert json.loads(browser.find_element(By.ID, "spec").text)["analysis"] == "mean"
    checks = browser.find_elements(By.CSS_SELECTOR, "#audit li.check")
    assert [c.get_attribute("data-check") for c in checks] == [c["check"] for c in audit["checks"]]
    assert all("passed" in c.get_attribute("class").split() for c in checks)
    assert any(c["check"] == "public: on-chain check" for c in audit["checks"])
    steps = [r[0] for r in rows(browser, "timeline")]
    assert steps[0] == "JobProposed" and steps.count("ResultSubmitted") == 3 and "OpeningPublished" in steps
    gas = sum(int(r[2].replace(",", "")) for r in rows(browser, "timeline"))
    assert gas > 0 and browser.find_element(By.ID, "gas-total").text == f"{gas:,}"
    screenshot(browser, artifacts / "job-auditable.png")
    browser.find_element(By.ID, "rerun").click()
    WebDriverWait(browser, 60).until(lambda d: "rerun=1" in d.current_url)
    assert browser.find_element(By.ID, "audit-verdict").text == "passed"
    # A participant's link leads to its row on the consortium page.
    browser.find_element(By.CSS_SELECTOR, "#participants a").click()
    assert browser.find_element(By.ID, f"member-{status['members'][0]['account']}").is_displayed()


def test_a_forged_transcript_shows_the_failing_step_in_red(story: Story, explorer: str,
                                                            browser: webdriver.Chrome, artifacts: Path) -> None:
    job = story.tampered
    audit = story.cli_json("audit", str(job), codes=(0, 1))
    failing = [c["check"] for c in audit["checks"] if not c["passed"]]
    assert not audit["passed"] and failing and all(f.startswith("public: ") for f in failing)
    browser.get(f"{explorer}/jobs/{job}")
    shown = browser.find_elements(By.CSS_SELECTOR, "#audit li.check.failed")
    assert [c.get_attribute("data-check") for c in shown] == failing
    assert shown[0].value_of_css_property("color") == RED
    assert browser.find_element(By.ID, "audit-verdict").text == "FAILED"
    assert "DataPublished" in [r[0] for r in rows(browser, "timeline")]
    screenshot(browser, artifacts / "job-tampered.png")
    if os.environ.get("MPCC_DOCS_SCREENSHOT") == "1":  # Refresh the README's picture only when asked.
        shutil.copyfile(artifacts / "job-tampered.png", ROOT / "docs" / "explorer-job.png")


def test_preprocessing_page_shows_batches_attestations_consumers_and_stock(
        story: Story, explorer: str, browser: webdriver.Chrome, artifacts: Path) -> None:
    browser.get(explorer + "/preprocessing")
    data = api(f"{explorer}/api/preprocessing")
    shown = rows(browser, "batches")
    assert len(shown) == len(data["batches"]) > 0
    kinds = {r[1] for r in shown}
    assert "input_mask" in kinds and "triple" in kinds
    assert all(r[5] == "Party A, Party B, Party C" or "," in r[5] for r in shown if r[3] == "committed")
    consumed = {u["job"] for b in data["batches"] for u in b["consumed"]}
    assert {story.finalised, story.auditable, story.tampered} <= consumed
    released = [u for b in data["batches"] for u in b["consumed"] if u["released"]]
    assert {u["job"] for u in released} == {story.aborted}
    status = story.cli_json("job", "status", str(story.aborted))
    assert sum(u["count"] for u in released) == status["released"] > 0
    assert {k: int(v) for k, v in (r[:2] for r in rows(browser, "stock"))} == data["stock"]
    link = browser.find_element(By.CSS_SELECTOR, f"#batches a[href='/jobs/{story.finalised}']")
    screenshot(browser, artifacts / "preprocessing.png")
    link.click()
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith(f"Job {story.finalised}")


def test_plots_are_inline_svg_with_one_bar_per_job(story: Story, explorer: str, browser: webdriver.Chrome,
                                                    artifacts: Path) -> None:
    browser.get(explorer + "/plots")
    figures = {f.get_attribute("id"): f for f in browser.find_elements(By.TAG_NAME, "figure")}
    assert set(figures) == {"plot-gas", "plot-gas-steps", "plot-latency", "plot-tuples", "plot-members"}
    data = api(f"{explorer}/api/plots")
    assert len(data["jobs"]) == 4 and all(j["gas"] > 0 for j in data["jobs"])
    bars = figures["plot-gas"].find_elements(By.CSS_SELECTOR, "svg rect")
    assert len(bars) == 4
    assert [p["active"] for p in data["members"]][-2:] == [3, 2]  # C admitted, then suspended
    assert not browser.find_elements(By.CSS_SELECTOR, "script[src^='http']")
    screenshot(browser, artifacts / "plots.png")


def test_a_phone_sized_page_has_no_horizontal_scroll(explorer: str, story: Story, browser: webdriver.Chrome,
                                                     artifacts: Path) -> None:
    browser.set_window_size(390, 844)
    try:
        browser.get(f"{explorer}/jobs/{story.tampered}")
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        screenshot(browser, artifacts / "job-phone.png")
    finally:
        browser.set_window_size(1200, 1000)


def test_pages_work_without_javascript(explorer: str, story: Story) -> None:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(f"{explorer}/jobs?state=finalised")
        assert len(rows(driver, "jobs")) == 3
        driver.find_element(By.CSS_SELECTOR, f"#jobs a[href='/jobs/{story.tampered}']").click()
        assert driver.find_elements(By.CSS_SELECTOR, "#audit li.check.failed")
    finally:
        driver.quit()


# Live updates (last: it adds a transaction to the story) ----------------------------------

def test_a_new_chain_event_updates_an_open_page(story: Story, explorer: str, browser: webdriver.Chrome) -> None:
    browser.get(explorer + "/")
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.body.dataset.live") == "connected")
    browser.execute_script("window.notReloaded = true;")
    story.forget()
    story.cluster.mpcc("org", "rotate", "--home", str(story.cluster.home(0)), "--endpoint", "127.0.0.1:1999")
    started = time.monotonic()
    WebDriverWait(browser, 30).until(lambda d: rows(d, "members")[0][2] == "127.0.0.1:1999")
    assert browser.execute_script("return window.notReloaded") is True  # Updated in place, not reloaded.
    assert time.monotonic() - started < 30
    assert "MemberKeysRotated" in [r[2] for r in rows(browser, "history")]
    with urllib.request.urlopen(explorer + "/events", timeout=10) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.readline() == b"retry: 3000\n" and stream.readline() == b"event: hello\n"
