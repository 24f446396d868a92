"""What the explorer's tests share: the story's record and the browser helpers."""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selenium import webdriver

from harness.cluster import MPCC, Cluster

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "explorer"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
AUDITABLE_MEAN = {"title": "auditable mean income", "analysis": "mean", "column": "income",
                  "reveal": ["count", "mean"], "auditable": True}
AUDITABLE_SUMMARY = {"title": "income summary (auditable)", "analysis": "summary", "columns": ["income"],
                     "params": {"ddof": 1}, "reveal": ["count", "mean", "variance", "std"], "auditable": True}
UNSERVED = {"title": "mean age (no peer binds it)", "analysis": "mean", "column": "age", "reveal": ["count", "mean"]}


@dataclass
class Story:
    """The finished story: the cluster (stopped) and what happened in it."""

    cluster: Cluster
    finalised: int
    auditable: int
    tampered: int
    aborted: int
    suspended: str  # The suspended member's account.

    #: The CLI's answers so far: the story is finished, so the same command prints the same JSON
    #: (but ``job status``'s chain_time), until a test adds a transaction (see ``forget``).
    answers: dict[tuple[str, ...], Any] = field(default_factory=dict)

    def cli_json(self, *args: str, codes: tuple[int, ...] = (0,)) -> Any:
        """``mpcc ARGS --json`` through the installed entry point, as a user runs it (exit code in ``codes``)."""
        if args not in self.answers:
            self.answers[args] = self._run_cli(args, codes)
        return self.answers[args]

    def prefetch(self, *commands: tuple[str, ...], codes: tuple[int, ...] = (0,)) -> None:
        """Runs ``commands`` (each one ``mpcc ... --json``) two at a time, for the tests to read."""
        with ThreadPoolExecutor(2) as pool:
            done = pool.map(lambda c: self._run_cli(c, codes), commands)
            self.answers.update(zip(commands, done, strict=True))

    def forget(self) -> None:
        self.answers.clear()

    def _run_cli(self, args: tuple[str, ...], codes: tuple[int, ...]) -> Any:
        done = subprocess.run([MPCC, *args, "--json"], capture_output=True, text=True, env=self.cluster.env,
                              cwd=self.cluster.workdir, timeout=120)
        assert done.returncode in codes, done.stderr
        return json.loads(done.stdout)



def screenshot(driver: webdriver.Chrome, path: Path) -> None:
    """The whole page (the window stretched to the document's height), as PNG."""
    width = driver.get_window_size()["width"]
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(width, max(height + 40, 600))
    time.sleep(0.2)
    driver.save_screenshot(str(path))
    driver.set_window_size(width, 1000)
