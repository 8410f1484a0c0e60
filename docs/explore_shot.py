"""The screenshot of docs/explore.md: Xavier's 152-layer ReLU network beside He's and N(0, 1)'s
in `gradsim explore`, taken by Debian's Chromium through Playwright (no browser download).

    python docs/explore_shot.py OUT.png

Starts `gradsim explore --no-browser`, opens the page at a URL that holds the whole state
(the network and two pinned ones), waits until the last requested pass is drawn, saves a
1280 × 760 screenshot and stops the server. `make docs` runs it (docs/excerpts.py); without
Playwright or Chromium it says so in one line and exits with code 2.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

NET = {"depth": "152", "init": "xavier", "hist": "0"}
PINS = [{"depth": "152", "init": "he"}, {"depth": "152", "init": "normal"}]
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update"]  # fmt: skip
# the last requested pass is drawn, and every pin's curves
SETTLED = """(pins) => { const x = window.gradsimExplore;
  return x && x.frames.length > 0 && x.frames[x.frames.length - 1].seq === x.requested
    && document.querySelectorAll("[data-panel=delta] path[data-series^=pin]").length === pins; }"""


def main(out: Path) -> int:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("explore_shot: Playwright is not installed (make test installs it)", file=sys.stderr)
        return 2
    chromium = os.environ.get("GRADSIM_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        print("explore_shot: no chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    server = subprocess.Popen([sys.executable, "-m", "gradsim", "explore", "--no-browser"],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        base = server.stdout.readline().split()[2]
        query = urlencode([*NET.items(), *(("pin", urlencode(p)) for p in PINS)])
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.goto(f"{base}?{query}")
            page.wait_for_function(SETTLED, arg=len(PINS), timeout=60_000)
            page.screenshot(path=str(out))
            browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(15)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
