"""Humans, replayed label files and students are all Judges; a missing label is never a guessed grade."""

from __future__ import annotations

from pathlib import Path

from qrelforge import Batch, Judge, Pair, human_judge, load_dataset, replay_judge


def test_replayed_file_grades_what_it_has_and_says_what_it_lacks(tmp_path: Path) -> None:
    path = tmp_path / "gpt.txt"
    path.write_text("q1 0 d1 2\nq1 0 d2 0\n")
    teacher = replay_judge(path)
    assert isinstance(teacher, Judge) and teacher.fingerprint.startswith("replay:gpt:")
    out = teacher.judge(Batch([Pair("q1", "d2"), Pair("q1", "d9"), Pair("q1", "d1")]))
    assert [(j.doc_id, j.grade, j.status) for j in out] == [("d2", 0, "ok"), ("d9", None, "no_label"), ("d1", 2, "ok")]


def test_fingerprint_follows_content(tmp_path: Path) -> None:
    trec, jsonl = tmp_path / "labels.txt", tmp_path / "labels.jsonl"
    trec.write_text("q1 0 d1 2\n")
    jsonl.write_text('{"qid": "q1", "docid": "d1", "judgment": 2}\n')
    first = replay_judge(trec).fingerprint
    assert replay_judge(trec).fingerprint == first
    assert replay_judge(jsonl).judge(Batch([Pair("q1", "d1")]))[0].grade == 2
    trec.write_text("q1 0 d1 3\n")
    assert replay_judge(trec).fingerprint != first  # a changed label file is a new judge: no stale reuse


def test_humans_are_a_judge() -> None:
    demo = load_dataset("dl20-demo")
    humans = human_judge(demo)
    pairs = demo.pairs[:5]
    assert [j.grade for j in humans.judge(Batch(pairs))] == [demo.qrels[p] for p in pairs]
    assert humans.fingerprint.startswith("human:dl20-demo:")


def test_every_judge_pickles_as_it_goes_to_a_ray_actor(tiny_student: Path) -> None:
    """A judge is shipped to Ray as it is: the pickled judge answers as the original does (a student's loaded model is
    not pickled: it is loaded again where it runs)."""
    import pickle

    from qrelforge import EngineSettings, TeacherConfig, load_student, load_teacher

    demo = load_dataset("dl20-demo")
    batch = Batch(demo.pairs[:20], demo)
    student = load_student(tiny_student, EngineSettings("fp32"))
    answers = student.judge(batch)  # loads the model
    shipped = pickle.loads(pickle.dumps(student))
    assert "model" not in shipped.__dict__ and [j.grade for j in shipped.judge(batch)] == [j.grade for j in answers]
    for judge in (human_judge(demo), load_teacher(TeacherConfig(model="gpt-4o"))):
        copy = pickle.loads(pickle.dumps(judge))
        assert (copy.fingerprint, copy.scale, copy.traits) == (judge.fingerprint, judge.scale, judge.traits)
    assert human_judge(demo).judge(batch) == pickle.loads(pickle.dumps(human_judge(demo))).judge(batch)
