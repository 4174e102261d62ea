"""The review page in a real headless Chromium: grade three pairs with the keyboard, kill the server, restart it,
reload, see the three grades, export them as qrels. Bad requests are refused with a message."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from qrelforge import (
    Budget,
    TrainConfig,
    load_dataset,
    load_student,
    read_qrels,
    replay_judge,
    teacher_examples,
    train_student,
)
from qrelforge.labeling.route import route_job

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Debian's chromium and chromium-driver are not installed (make test installs them)",
)


@pytest.fixture
def routed(small_dataset: Path, tiny_base: Path, tmp_path: Path) -> Path:
    """A routed job over the small dataset: a tiny student, the human qrels replayed as the teacher for 10 pairs."""
    dataset = load_dataset(small_dataset)
    config = TrainConfig(base=str(tiny_base), max_steps=2, max_length=64)
    student = train_student(teacher_examples([dataset]), tmp_path / "student", config, progress=False).model_dir
    route_job(
        load_student(student),
        replay_judge(small_dataset / "qrels.txt"),
        dataset.pairs,
        dataset,
        tmp_path / "labels.txt",
        Budget(pairs=10),
        progress=False,
    )
    return tmp_path / "labels.txt"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(labels: Path, port: int) -> tuple[subprocess.Popen, str]:
    """The review server of ``labels`` on ``port``, and the URL it printed (its token in the query)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "qrelforge", "review", "--labels", str(labels), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = server.stdout.readline()
    if f"http://127.0.0.1:{port}/?token=" not in line:
        server.kill()
        pytest.fail(f"the review command printed no URL with a token: {line + server.stdout.read()}")
    return server, line.split()[2]


def token_of(url: str) -> dict[str, str]:
    return {"X-Qrelforge-Token": url.split("token=")[1]}


@pytest.fixture
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A headless Chromium; its temporary files (its singleton folder too) go in a pytest folder, not in /tmp."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    scratch = tmp_path_factory.mktemp("chromium")
    service = Service(CHROMEDRIVER, env={**os.environ, "TMPDIR": str(scratch)})
    driver = webdriver.Chrome(service=service, options=options)
    yield driver
    driver.quit()


def wait_for(condition: object, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.browser
@needs_chromium
def test_grade_three_pairs_kill_restart_reload_and_export(routed: Path, browser: object, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    port = free_port()
    server, url = serve(routed, port)
    try:
        browser.get(url)
        wait_for(lambda: browser.find_element(By.ID, "status").text == "not graded yet")
        first = browser.find_element(By.ID, "position").text
        assert "pair 1 of 96" in first
        body = browser.find_element(By.TAG_NAME, "body")
        wanted = []
        for key in ("2", "0", "3"):
            wanted.append(browser.find_element(By.ID, "position").text.split(" · ")[1])
            body.send_keys(key)  # saves, then moves to the next pair
            wait_for(lambda: browser.find_element(By.ID, "position").text.split(" · ")[1] != wanted[-1])
        browser.save_screenshot(str(tmp_path / "review.png"))
    finally:
        server.send_signal(signal.SIGKILL)  # no shutdown, no flush: what is saved must already be on disk
        server.wait()

    server, url = serve(routed, port)  # a new run, a new token
    try:
        browser.get(url)
        wait_for(lambda: "pair 1 of 96" in browser.find_element(By.ID, "position").text)
        seen = []
        for _ in range(3):
            seen.append(
                (
                    browser.find_element(By.ID, "position").text.split(" · ")[1],
                    browser.find_element(By.ID, "status").text,
                )
            )
            browser.find_element(By.TAG_NAME, "body").send_keys("j")
        assert seen == [(pair, f"saved: grade {g}") for pair, g in zip(wanted, (2, 0, 3))]
        browser.find_element(By.ID, "export").click()
        wait_for(lambda: "exported 3 grades" in browser.find_element(By.ID, "status").text)
        listing = urllib.request.Request(f"http://127.0.0.1:{port}/api/items", headers=token_of(url))
        marked = [
            i
            for i, item in enumerate(json.load(urllib.request.urlopen(listing)))
            if any(term for _, term in item["passage"])
        ]
        here = int(browser.find_element(By.ID, "position").text.split()[1]) - 1
        browser.find_element(By.TAG_NAME, "body").send_keys(("j" if marked[0] > here else "k") * abs(marked[0] - here))
        wait_for(lambda: browser.find_element(By.ID, "position").text.startswith(f"pair {marked[0] + 1} of"))
        assert browser.find_elements(By.CSS_SELECTOR, "#passage mark")  # the query's terms, highlighted

        bad = [
            ({"qid": "nope", "docid": "x", "grade": 1}, 404, "unknown pair nope/x"),
            (
                {"qid": wanted[0].split(" / ")[0], "docid": wanted[0].split(" / ")[1], "grade": 7},
                400,
                "grade 7 is not on the scale",
            ),
            ({"grade": 1}, 400, "expected a JSON object"),
        ]
        for payload, status, message in bad:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/grade",
                json.dumps(payload).encode(),
                {"Content-Type": "application/json"} | token_of(url),
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request)
            assert refused.value.code == status and message in json.loads(refused.value.read())["error"]
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()

    exported = read_qrels(routed.with_name("labels.txt.assessor.txt"))
    assert {f"{p.query_id} / {p.doc_id}": g for p, g in exported.items()} == dict(zip(wanted, (2, 0, 3)))
    rows = [json.loads(line) for line in routed.with_name("labels.txt.assessor.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and {r["source"] for r in rows} == {"assessor"} and all(r["label_source"] for r in rows)
    assert replay_judge(routed.with_name("labels.txt.assessor.jsonl")).grades == exported  # feeds back as labels
    assert (tmp_path / "review.png").stat().st_size > 10_000


def test_only_its_own_page_may_read_or_write(routed: Path) -> None:
    """DNS rebinding (a foreign Host), another site's page (a foreign Origin) and requests without the run's token
    are refused with 403, and nothing they send is saved; the page's own requests pass."""
    port = free_port()
    server, url = serve(routed, port)
    base, token = f"http://127.0.0.1:{port}", token_of(url)
    pair = {"qid": "nope", "docid": "x", "grade": 1}

    def status(path: str, headers: dict[str, str], body: bytes | None = None) -> int:
        request = urllib.request.Request(base + path, body, headers, method="POST" if body is not None else "GET")
        try:
            return urllib.request.urlopen(request).status
        except urllib.error.HTTPError as refused:
            assert "error" in json.loads(refused.read())
            return refused.code

    grade = json.dumps(pair).encode()
    as_json = {"Content-Type": "application/json"}
    try:
        assert status("/api/items", token) == 200 and status("/api/items", {}) == 403
        assert status("/api/items", token | {"Host": "evil.example"}) == 403  # rebound name
        assert status("/", {"Host": f"evil.example:{port}"}) == 403
        assert status("/api/grade", as_json | {"Host": "evil.example"} | token, grade) == 403
        assert status("/api/grade", as_json | {"Origin": "http://evil.example"} | token, grade) == 403
        assert status("/api/grade", as_json, grade) == 403  # no token
        form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"}
        assert status("/api/export", form, b"x=1") == 403 and status("/api/export", {}, b"") == 403
        assert (
            status("/api/grade", as_json | {"Origin": base} | token, grade) == 404
        )  # its own page: the pair is unknown
        assert status("/api/export", {"Origin": base} | token, b"") == 200
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    assert not routed.with_name("labels.txt.assessor.log.jsonl").read_text()  # nothing refused was saved


def test_a_plain_job_on_a_one_to_four_scale_shows_probabilities_by_grade(tmp_path: Path) -> None:
    """The page keys a judge's probabilities by its grades, not by their column: on a 1-4 scale, grade 1's
    probability is shown as grade 1's."""
    from conftest import write_dataset
    from qrelforge.cli import main
    from qrelforge.review.items import load_items

    folder = write_dataset(tmp_path / "d", {"q1": "cats"}, {"d1": "a cat", "d2": "a dog"}, ["q1 0 d1 4", "q1 0 d2 1"])
    (folder / "grades.txt").write_text("1 2 3 4\n")
    labels = tmp_path / "judge.jsonl"
    labels.write_text(
        '{"qid": "q1", "docid": "d1", "judgment": 4, "probs": {"1": 0.1, "2": 0.0, "3": 0.2, "4": 0.7}}\n'
        '{"qid": "q1", "docid": "d2", "judgment": 1, "probs": {"1": 0.6, "2": 0.3, "3": 0.1, "4": 0.0}}\n'
    )
    assert (
        main(["label", "--judge", str(labels), "--dataset", str(folder), "--out", str(tmp_path / "l.txt"), "--quiet"])
        == 0
    )
    items = {i.pair.doc_id: i for i in load_items(tmp_path / "l.txt", load_dataset(folder))}
    assert items["d1"].student.probs == {1: 0.1, 2: 0.0, 3: 0.2, 4: 0.7}
    assert items["d2"].to_json()["student"]["probs"] == {"1": 0.6, "2": 0.3, "3": 0.1, "4": 0.0}


@pytest.mark.browser
@needs_chromium
def test_an_audit_shows_the_most_suspect_human_grades_first_and_exports_a_corrected_copy(
    small_dataset: Path, browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    from qrelforge.labeling.audit import audit_job

    dataset = load_dataset(small_dataset)
    gpt4o = replay_judge(load_dataset("dl20-demo").folder / "teacher-gpt-4o-umbrela.txt")
    original = (small_dataset / "qrels.txt").read_bytes()
    audit = audit_job([gpt4o], dataset.qrels, dataset, tmp_path / "audit", progress=False)
    top = audit.rows[0]
    port = free_port()
    server, url = serve(tmp_path / "audit", port)
    try:
        browser.get(url)
        wait_for(lambda: browser.find_element(By.ID, "status").text == "not graded yet")
        position = browser.find_element(By.ID, "position").text
        pair = f"{top.pair.query_id} / {top.pair.doc_id}"
        assert f"pair 1 of {len(audit.rows)} · {pair} · human grade {top.grade} · audit score" in position
        judges = browser.find_element(By.ID, "judges").text
        assert gpt4o.fingerprint in judges and str(top.members[0].grade) in judges  # the judge beside the human
        corrected = top.members[0].grade
        browser.find_element(By.TAG_NAME, "body").send_keys(str(corrected))
        wait_for(lambda: pair not in browser.find_element(By.ID, "position").text)
        browser.find_element(By.ID, "export").click()
        wait_for(lambda: "exported 1 grades" in browser.find_element(By.ID, "status").text)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    assert read_qrels(tmp_path / "audit.corrected.txt") == dict(dataset.qrels) | {top.pair: corrected}
    assert (small_dataset / "qrels.txt").read_bytes() == original  # the audited qrels are never written
