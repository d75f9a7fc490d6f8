"""Locust users of the load benchmark: each run drives ONE page, named by BENCH_PAGE, with the
session cookie the runner wrote for it in BENCH_CONFIG (scripts/bench/run.py).

No wait between requests: 20 users keep the server saturated, so requests per second is the
page's capacity on this machine, comparable with the minimal view measured the same way.
"""

import json
import os
from pathlib import Path

from locust import FastHttpUser, constant, task

CONFIG = json.loads(Path(os.environ["BENCH_CONFIG"]).read_text(encoding="utf-8"))
PAGE = CONFIG["pages"][os.environ["BENCH_PAGE"]]


class PageUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self):
        self.headers = {"Accept-Language": "zh-hans"}
        if PAGE.get("session"):
            self.headers["Cookie"] = f"{CONFIG['cookie_name']}={PAGE['session']}"

    @task
    def page(self):
        with self.client.get(
            PAGE["path"],
            headers=self.headers,
            name=os.environ["BENCH_PAGE"],
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
