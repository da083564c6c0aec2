"""The report in a real browser: headless Chromium (Debian's package, installed by .ci/run)
opens it with every network name unresolvable, and every figure must have rendered.

Two looks per report, in a tab of one Chromium for the module (tests/chromium.py): the page's
DOM after its load event, where the report's own script has written each figure's box and
whether its SVG laid out with drawn content (``data-rendered``); then, the viewport resized to
the page's full height, a screenshot: each figure's box must hold ink (not a blank panel): at
least ``MIN_INK`` of its pixels away from white and several distinct colours.  Set
CTCSIM_SCREENSHOTS=DIR to keep the screenshots.

Reports: the default scenario (one arm), breast_antiplatelet with events (two arms), a sweep
of two parameters (conftest's, whose report test_report_study.py checks: a response figure per
outcome with units) and a Sobol' sensitivity study.
"""
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from chromium import Chromium
from PIL import Image

from ctcsim.cli import main
from ctcsim.report.html import CHECK

WIDTH = 1200
MIN_INK = 0.01      # a figure's share of non-white pixels; drawn axes alone give more than 2%
MIN_COLOURS = 4     # text, axes, and at least two colours of data
NO_NETWORK = "--host-resolver-rules=MAP * ~NOTFOUND"
RUN = ["-n", "2000", "--seed", "3", "-q"]
SOBOL = """
units = 500
[[parameters]]
path = "biology.k_on_per_s"
low = 1e-4
high = 1e-2
scale = "log"
[[parameters]]
path = "primary.diameter_median_um"
low = 11
high = 14
[sensitivity]
samples = 4
resamples = 100
[[outputs]]
outcome = "arrested"
organ = "lung"
"""


def response_figures(study: Path) -> set:
    """A sweep's report draws one figure per outcome that some unit of some point had."""
    import pyarrow.parquet as pq

    t = pq.read_table(study / "table.parquet").to_pylist()
    return {f"response-{r['outcome']}" for r in t if r["organ"] == "all" and r["count"] > 0}


# name: (the commands that make the directory OUT, the figures its report must show); the
# sweep is conftest's sweep_report, made once for this module and test_report_study.py.
CASES = {"default": ([["run", *RUN]], {"cascade", "organs", "times", "spent"}),
         "two_arms": ([["run", "breast_antiplatelet", "--events", *RUN]],
                      {"cascade", "organs", "times", "forest", "spent"}),
         "sweep": (None, response_figures),
         "sobol": ([["sensitivity", "STUDY", "-q"]], {"sobol-0", "outputs"})}


@pytest.fixture(scope="module")
def browser():
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    b = Chromium("--no-sandbox", "--disable-gpu", "--hide-scrollbars", NO_NETWORK, "--disable-background-networking")
    yield b
    b.close()


def load(browser: Chromium, html: Path, height: int = 2000):
    return browser.open(html.as_uri(), WIDTH, height)


@pytest.fixture(scope="module", params=sorted(CASES))
def report(request, tmp_path_factory):
    commands, figures = CASES[request.param]
    if commands is None:
        out = request.getfixturevalue("sweep_report")
        return request.param, out / "report.html", figures(out)
    tmp = tmp_path_factory.mktemp(request.param)
    (tmp / "study.toml").write_text(SOBOL)
    out = tmp / "out"
    runner = CliRunner()
    for cmd in commands:
        cmd = [str(tmp / "study.toml") if a == "STUDY" else a for a in cmd]
        done = runner.invoke(main, [*cmd, "-o", str(out)])
        assert done.exit_code == 0, done.output
    result = runner.invoke(main, ["report", str(out)])
    assert result.exit_code == 0, result.output
    return request.param, Path(result.output.strip()), figures(out) if callable(figures) else figures


def test_every_figure_renders_in_chromium_without_network(report, browser):
    name, html, expected = report
    tab = load(browser, html)
    dom = tab.dom()
    found = dict(re.findall(r'<figure class="plot" id="fig-([\w-]+)"[^>]*?data-box="([\d,.-]+)"', dom))
    states = dict(re.findall(r'<figure class="plot" id="fig-([\w-]+)"[^>]*?data-rendered="(\w+)"', dom))
    assert set(found) == expected and set(states) == expected, (found, states)
    assert all(s == "yes" for s in states.values()), states
    height = int(re.search(r'data-height="(\d+)"', dom).group(1))
    tab.resize(WIDTH, height)
    png = tab.screenshot()
    tab.close()
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert image.shape[0] >= height - 1 and image.shape[1] == WIDTH
    for fig, box in found.items():
        x, y, w, h = (int(v) for v in box.split(","))
        assert w > 300 and h > 100, (fig, box)
        panel = image[y:y + h, x:x + w]
        ink = (panel < 230).any(axis=2).mean()
        q = (panel // 32).astype(np.int32)  # 8 levels a channel, a colour as one integer: np.unique over
        colours = len(np.unique((q[..., 0] << 6) | (q[..., 1] << 3) | q[..., 2]))  # rows was 2 s a figure
        assert ink > MIN_INK and colours >= MIN_COLOURS, (fig, ink, colours)
    keep = os.environ.get("CTCSIM_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"{name}.png").write_bytes(png)


def test_a_figure_that_does_not_lay_out_is_reported(tmp_path, browser):
    """The check itself: an empty SVG in a figure is marked data-rendered="no" (and the page says
    "this figure did not render"), so the test above can fail."""
    page = tmp_path / "blank.html"
    page.write_text('<!DOCTYPE html><html><body><figure class="plot" id="fig-blank"><svg width="400" '
                    f'height="200"></svg></figure><script>{CHECK}</script></body></html>')
    tab = load(browser, page)
    dom = tab.dom()
    tab.close()
    assert re.search(r'id="fig-blank"[^>]*data-rendered="no"', dom), dom


def test_metadata_in_the_page_is_json(report):
    _, html, _ = report
    text = html.read_text()
    md = json.loads(re.search(r'<script type="application/json" id="ctcsim-metadata">(.*?)</script>', text,
                              re.S).group(1))
    assert md["format"] in ("ctcsim-run", "ctcsim-study") and "seed" in md
