"""The review page's web app (Flask): the page, the items as JSON, one POST per grade, and the export.

Only its own page may use it. The server answers only requests whose ``Host`` is its own address (127.0.0.1 or
localhost with its port), so a site whose name is rebound to 127.0.0.1 gets 403; every API request must carry the
run's token (``X-Qrelforge-Token``; the printed URL hands it to the page), and a state-changing request whose
``Origin`` is another site's is refused, token or not.

Bad input is refused with a message and the status that says why: an unknown pair is 404, a grade off the scale
or a malformed request is 400.

>>> import tempfile
>>> from qrelforge import Pair
>>> from qrelforge.records import Answer
>>> item = ReviewItem(Pair("q1", "d1"), "cats", [["cats", True]], 1, "student", Answer("student:s:0", 1), None, 0.0,
...                   0.2)
>>> folder = tempfile.mkdtemp()
>>> app = create_app([item], AssessorGrades(folder + "/a.jsonl"), (0, 1, 2, 3), folder + "/labels.txt", "s3cret",
...                  ["localhost"])  # a test client's host
>>> client, token = app.test_client(), {"X-Qrelforge-Token": "s3cret"}
>>> client.post("/api/grade", json={"qid": "q1", "docid": "d1", "grade": 7}, headers=token).get_json()["error"]
'grade 7 is not on the scale [0, 1, 2, 3]'
>>> client.post("/api/grade", json={"qid": "q1", "docid": "d1", "grade": 2, "note": "ok"}, headers=token).status_code
200
>>> client.get("/api/items").status_code, client.get("/api/items", headers={"Host": "evil.example"} | token).status_code
(403, 403)
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ..io.files import write_jsonl
from ..io.trec import write_qrels
from ..labeling.job import LabelFiles
from ..records import Pair
from .grades import AssessorGrades
from .items import ReviewItem

ASSESSOR = "assessor"
TOKEN_HEADER = "X-Qrelforge-Token"


def create_app(
    items: Sequence[ReviewItem],
    grades: AssessorGrades,
    scale: Sequence[int],
    labels: str | Path,
    token: str,
    hosts: Sequence[str],
) -> Any:
    """The Flask app serving ``items``; grades go to ``grades``; the export is written beside ``labels``. It answers
    only requests addressed to one of ``hosts`` (``host:port``), and its API only those that carry ``token``."""
    from flask import Flask, Response, abort, jsonify, request

    app = Flask(__name__)
    by_pair = {item.pair: item for item in items}
    page = (resources.files("qrelforge.review") / "page.html").read_text(encoding="utf-8")
    origins = {f"http://{host}" for host in hosts}

    @app.before_request
    def only_this_page() -> None:
        if request.host not in hosts:
            abort(403, f"this server answers requests to {' or '.join(hosts)} only")
        if request.method != "GET" and request.headers.get("Origin") not in (None, *origins):
            abort(403, "a request from another site's page is refused")
        if request.path.startswith("/api/") and not hmac.compare_digest(request.headers.get(TOKEN_HEADER, ""), token):
            abort(403, "the API needs the token of the URL the review command printed")

    @app.errorhandler(403)
    def refused(error: Any) -> Any:
        return jsonify(error=error.description), 403

    @app.get("/")
    def index() -> Response:
        return Response(page.replace("$SCALE", json.dumps(list(scale))), mimetype="text/html")

    @app.get("/api/items")
    def listing() -> Response:
        saved = grades.latest()
        return jsonify([item.to_json() | {"assessor": saved.get(item.pair)} for item in items])

    @app.post("/api/grade")
    def grade() -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not {"qid", "docid", "grade"} <= set(body):
            return jsonify(error="expected a JSON object with qid, docid and grade (and an optional note)"), 400
        pair = Pair(str(body["qid"]), str(body["docid"]))
        if pair not in by_pair:
            return jsonify(
                error=f"unknown pair {pair.query_id}/{pair.doc_id}: it is not among the labels reviewed"
            ), 404
        value, note = body["grade"], body.get("note", "")
        if isinstance(value, bool) or not isinstance(value, int) or value not in scale:
            return jsonify(error=f"grade {value!r} is not on the scale {list(scale)}"), 400
        if not isinstance(note, str) or len(note) > 10_000:
            return jsonify(error="a note is text of at most 10,000 characters"), 400
        grades.save(pair, value, note)
        return jsonify(saved=True)

    @app.post("/api/export")
    def export() -> Response:
        paths = export_grades(grades, by_pair, labels)
        return jsonify(qrels=str(paths[0]), provenance=str(paths[1]), pairs=len(grades.latest()))

    return app


def export_grades(grades: AssessorGrades, items: dict[Pair, ReviewItem], labels: str | Path) -> tuple[Path, Path]:
    """Write the assessor's grades as TREC qrels (``LABELS.assessor.txt``: ``train --teacher`` and ``augment
    --human`` read it) and as a label JSONL with provenance (``LABELS.assessor.jsonl``); for an audit, also the
    audited qrels with the assessor's corrections (``AUDIT.corrected.txt``; the original file is not touched)."""
    files = LabelFiles(Path(labels))
    latest = grades.latest()
    qrels, provenance = files.assessor_qrels, files.assessor_labels
    write_qrels(qrels, {pair: row["grade"] for pair, row in latest.items()})
    audited = {pair: item.grade for pair, item in items.items() if item.audited and item.grade is not None}
    if audited:
        write_qrels(files.corrected_qrels, audited | {p: row["grade"] for p, row in latest.items() if p in audited})
    write_jsonl(
        provenance,
        (
            {
                "qid": p.query_id,
                "docid": p.doc_id,
                "judgment": row["grade"],
                "source": ASSESSOR,
                "note": row["note"],
                "time": row["time"],
                "label_was": items[p].grade if p in items else None,
                "label_source": items[p].source if p in items else None,
            }
            for p, row in sorted(latest.items())
        ),
    )
    return qrels, provenance
