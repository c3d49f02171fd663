"""TensorBoard as a user sees it: the real ``tensorboard`` server over tiny runs of every demo, opened in
headless Chromium (Debian's ``chromium`` package, driven by Playwright; no browser is downloaded).

For each demo's log directory the Scalars dashboard must draw its charts (a line with at least two
points), and the Images, Text and HParams dashboards (and, for classification, PR curves and the
Projector) must show the demo's cards. Screenshots of every
dashboard are saved under ``test-artifacts/tensorboard/`` (or ``$TFSEQ_TEST_ARTIFACTS``).
Headless Chromium draws TensorBoard's charts only with software GL (SwiftShader)."""

import contextlib
import os
import pathlib
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from demo_runs import free_port, stop, tensorboard_command, write_runs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Debian's chromium is not installed (apt-get install chromium); CI installs it",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra") if not os.environ.get(
    "CI") else __import__("playwright.sync_api", fromlist=["sync_playwright"])

ARTIFACTS = pathlib.Path(os.environ.get("TFSEQ_TEST_ARTIFACTS", pathlib.Path(__file__).parents[1] / "test-artifacts"))
BROWSER_ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 45_000

# demo folder -> what its dashboards must show: scalar tags drawn as lines (trained over several logged
# steps) or as single points (one value per epoch), image and text tags, and the run in the HParams table
DEMOS = {
    "regression": {"lines": ["Training Loss", "W/x0"], "points": ["R2"], "images": ["fit"], "text": ["parameters"],
                   "hparams": "r"},
    "names": {"lines": ["Training Loss", "Perplexity"], "points": ["Validation Loss"], "images": [],
              "text": ["samples"], "hparams": "lm"},
    "translate": {"lines": ["Training Loss"], "points": ["BLEU"], "images": ["attention"], "text": ["translations"],
                  "hparams": "t"},
    "classify": {"lines": ["Training Loss"], "points": ["Accuracy", "Test Macro F1"], "images": ["confusion_matrix"],
                 "text": ["misclassified"], "hparams": "c", "pr_curves": ["pr_curve_test/pr_curves"],
                 "projector": True},
    "tag": {"lines": ["Training Loss"], "points": ["Slot F1", "Intent Accuracy"], "images": [],
            "text": ["slot_f1_by_type", "tagged_examples"], "hparams": "g"},
}


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    write_runs(root / "logdir", root)
    return root / "logdir"


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM, "Debian's chromium is needed (apt-get install chromium)"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS, headless=True)
        yield browser
        browser.close()


@contextlib.contextmanager
def serving(logdir, log_path):
    """The real ``tensorboard`` on a free loopback port; yields its base URL once it answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([tensorboard_command(), "--logdir", str(logdir), "--host", "127.0.0.1",
                                   "--port", str(port), "--load_fast", "false"], stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, log_path.read_text()
                try:
                    urllib.request.urlopen(base + "/data/runs", timeout=5).read()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "tensorboard did not answer within 60 s"
                    time.sleep(0.5)
            yield base
        finally:
            stop(server)


def open_dashboard(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    return page


def save(page, shot):
    ARTIFACTS.joinpath("tensorboard").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "tensorboard" / f"{shot}.png"))


def drawn_points(page):
    """The number of points of each line drawn in the Scalars charts (Plottable's SVG paths)."""
    paths = page.locator("path.line").evaluate_all("ps => ps.map(p => p.getAttribute('d') || '')")
    return [d.count("L") + 1 for d in paths if d.startswith("M")]


@pytest.mark.parametrize("demo", sorted(DEMOS))
def test_every_dashboard_shows_the_demo(demo, logdir, browser, tmp_path):
    expected = DEMOS[demo]
    with serving(logdir / demo, tmp_path / "tensorboard.log") as base:
        for tag in expected["lines"] + expected["points"]:
            page = open_dashboard(browser, f"{base}/#scalars&tagFilter={urllib.parse.quote(tag)}")
            page.locator("tf-scalar-card").first.wait_for()
            deadline = time.monotonic() + TIMEOUT_MS / 1000
            need = 2 if tag in expected["lines"] else 1
            while not any(n >= need for n in drawn_points(page)):
                if time.monotonic() > deadline:
                    save(page, f"{demo}-scalars-failed")
                    pytest.fail(f"{demo}: no {tag!r} chart with {need}+ points was drawn: {drawn_points(page)}")
                time.sleep(0.5)
            assert page.get_by_text(tag, exact=True).first.is_visible()
            save(page, f"{demo}-scalars-{tag.replace('/', '_').replace(' ', '_')}")
            page.close()

        if expected["images"]:
            page = open_dashboard(browser, f"{base}/#images")
            page.locator("tf-image-loader img").first.wait_for()
            page.wait_for_function("() => true")
            for tag in expected["images"]:
                page.get_by_text(tag, exact=True).first.wait_for()
            widths = page.locator("tf-image-loader img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
            assert widths and all(w > 0 for w in widths), f"{demo}: images did not load: {widths}"
            save(page, f"{demo}-images")
            page.close()

        page = open_dashboard(browser, f"{base}/#text")
        page.locator("tf-text-loader").first.wait_for()
        for tag in expected["text"]:
            page.get_by_text(tag, exact=True).first.wait_for()
        save(page, f"{demo}-text")
        page.close()

        if expected.get("pr_curves"):
            page = open_dashboard(browser, f"{base}/#pr_curves")
            page.locator("tf-pr-curve-card").first.wait_for()
            for tag in expected["pr_curves"]:
                page.get_by_text(tag, exact=True).first.wait_for()
            deadline = time.monotonic() + TIMEOUT_MS / 1000
            while not any(n >= 2 for n in drawn_points(page)):  # a curve, not a lone point
                if time.monotonic() > deadline:
                    save(page, f"{demo}-pr_curves-failed")
                    pytest.fail(f"{demo}: no PR curve was drawn: {drawn_points(page)}")
                time.sleep(0.5)
            save(page, f"{demo}-pr_curves")
            page.close()

        if expected.get("projector"):
            page = open_dashboard(browser, f"{base}/#projector")
            # the Projector runs in an iframe within the plugin's iframe; it shows the table's size once loaded
            projector = page.frame_locator("iframe").frame_locator("iframe")
            projector.locator("vz-projector").first.wait_for()
            points = projector.get_by_text(re.compile(r"Points: [1-9]\d*")).first  # "Points: 0" until loaded
            points.wait_for()
            assert int(re.search(r"Points: (\d+)", points.inner_text())[1]) > 10
            save(page, f"{demo}-projector")
            page.close()

        page = open_dashboard(browser, f"{base}/#hparams")
        page.locator("tf-hparams-table-view").first.wait_for()
        page.get_by_text("Trial ID", exact=True).first.wait_for()
        page.get_by_text(expected["hparams"], exact=True).first.wait_for()
        save(page, f"{demo}-hparams")
        page.close()
