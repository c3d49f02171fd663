"""TensorBoard as a user opens it: the real ``tensorboard`` server on a free local port, asked
over its HTTP data API for the runs, scalars, histograms, texts and images written by tiny
``tfseq regress``, ``tfseq lm train`` and ``tfseq translate train`` runs; stopped by its PID."""

import json
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from demo_runs import free_port, stop, tensorboard_command, write_runs


def get(base, path, **query):
    url = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read()
    return body if "individualImage" in path else json.loads(body)


EXPECTED = {  # run -> plugin -> tags that must be there (regular expressions, matched whole)
    "regression/r/train": {
        "scalars": {"Training Loss", "Learning Rate", "Gradient Norm", "W/x0", "b", "W/mean", "W/stddev", "W/min",
                    "W/max"},
        "histograms": {"weights/linear_regression/W", "weights/linear_regression/b"},  # the CLI names the model
        "text": {"parameters"}, "images": {"fit"}},
    "regression/r/validation": {"scalars": {"Validation Loss", "R2"}},
    "names/lm/train": {"scalars": {"Training Loss", "Perplexity", "words_per_second"},
                       "histograms": {r"weights/language_model(_\d+)?/softmax_w"}, "text": {"samples"}},
    "names/lm/validation": {"scalars": {"Validation Loss", "Perplexity"}},
    "translate/t/train": {"scalars": {"Training Loss", "tokens_per_second"}, "text": {"translations"},
                          "images": {"attention"}},
    "translate/t/validation": {"scalars": {"Validation Loss", "BLEU"}},
    "classify/c/train": {"scalars": {"Training Loss", "sentences_per_second"}, "text": {"misclassified"},
                         "images": {"confusion_matrix"}},
    "classify/c/validation": {"scalars": {"Validation Loss", "Accuracy", "Macro F1"}},
    "tag/g/train": {"scalars": {"Training Loss", "words_per_second"}, "text": {"slot_f1_by_type", "tagged_examples"}},
    "tag/g/validation": {"scalars": {"Validation Loss", "Slot F1", "Intent Accuracy", "Sentence Accuracy"}},
}


def missing_tags(base):
    """What of EXPECTED the server does not show yet (empty when all is there)."""
    missing = []
    for plugin in ("scalars", "histograms", "text", "images"):
        shown = get(base, f"/data/plugin/{plugin}/tags")
        for run, plugins in EXPECTED.items():
            tags = shown.get(run, {})
            missing += [f"{run} {plugin} {pattern}" for pattern in sorted(plugins.get(plugin, ()))
                        if not any(re.fullmatch(pattern, tag) for tag in tags)]
    return missing


def test_tensorboard_serves_every_demo_run(tmp_path):
    logdir = tmp_path / "logdir"
    logdir.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "tensorboard.log", "wb")
    # started first: it boots while the runs train, and reloads the logdir every second
    server = subprocess.Popen([tensorboard_command(), "--logdir", str(logdir), "--host", "127.0.0.1",
                               "--port", str(port), "--load_fast", "false", "--reload_interval", "1"],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        printed = write_runs(logdir, tmp_path)
        deadline = time.monotonic() + 45
        missing = ["the server did not answer"]
        while time.monotonic() < deadline and missing:
            assert server.poll() is None, (tmp_path / "tensorboard.log").read_text()
            try:
                missing = missing_tags(base)
            except (urllib.error.URLError, ConnectionError):
                pass
            if missing:
                time.sleep(0.5)
        assert not missing, missing

        runs = get(base, "/data/runs")
        assert set(EXPECTED) | {"regression/r", "names/lm"} <= set(runs)
        # the last "b" scalar is the bias `tfseq regress` printed
        values = get(base, "/data/plugin/scalars/scalars", run="regression/r/train", tag="b")
        assert [step for _, step, _ in values] == list(range(2, 21, 2))  # logged every 10 // 4 steps
        printed_b = float(re.search(r"^b +(\S+)", printed, re.M)[1])
        assert values[-1][2] == pytest.approx(printed_b, abs=2e-6)
        # the fitted-line plot, one per epoch, served as PNG
        images = get(base, "/data/plugin/images/images", run="regression/r/train", tag="fit")
        assert [image["step"] for image in images] == [10, 20]
        png = get(base, "/data/plugin/images/individualImage?" + images[-1]["query"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        texts = get(base, "/data/plugin/text/text", run="names/lm/train", tag="samples")
        assert texts and "<li>" in texts[-1]["text"]
    finally:
        stop(server)
        log.close()
    assert server.returncode is not None
