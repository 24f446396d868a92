"""What the explorer's tests share: the story's record and the browser helpers."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
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

    def cli_json(self, *args: str, codes: tuple[int, ...] = (0,)) -> Any:
        """``mpcc ARGS --json`` through the installed entry point, as a user runs it (exit code in ``codes``)."""
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
