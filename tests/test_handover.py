"""Handing a run trained elsewhere back to notebook 03: what is refused, and how. (The whole round trip, train, pack,
unpack and notebook 03 reusing the run, is test_pipeline's papermill test.)"""

import json
import tarfile

import pytest

from fer_helpers import handover, training


def unfinished_run(run_dir):
    """A run folder whose run file says training has not finished."""
    folder = handover.checkpoints_dir(run_dir)
    folder.mkdir(parents=True)
    record = {"settings": {}, "finished": False, "trained_on": [{"hardware": "here", "precision": "float32"}]}
    (folder / training.RUN_FILE).write_text(json.dumps(record))
    return folder


def test_an_unfinished_run_is_not_packed(tmp_path):
    unfinished_run(tmp_path)
    with pytest.raises(ValueError, match="unfinished run"):
        handover.pack(tmp_path, tmp_path / "run.tar")
    assert not (tmp_path / "run.tar").exists()


def test_unpack_refuses_other_archives_and_never_writes_over_a_run(tmp_path):
    stray = tmp_path / "notes.txt"
    stray.write_text("not a run")
    with tarfile.open(tmp_path / "other.tar", "w") as tar:
        tar.add(stray, arcname="notes.txt")
    with pytest.raises(ValueError, match="is not a packed run: it holds \\['notes.txt'\\]"):
        handover.unpack(tmp_path / "other.tar", tmp_path / "runs" / "a")
    (tmp_path / "broken.tar").write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match="Cannot read .*broken.tar as a packed run"):
        handover.unpack(tmp_path / "broken.tar", tmp_path / "runs" / "a")
    with pytest.raises(ValueError, match="Cannot read .*missing.tar as a packed run"):
        handover.unpack(tmp_path / "missing.tar", tmp_path / "runs" / "a")
    assert not (tmp_path / "runs").exists()  # nothing written, not even a folder

    existing = unfinished_run(tmp_path / "runs" / "b")
    with pytest.raises(FileExistsError, match="exists: unpack into another run id"):
        handover.unpack(tmp_path / "other.tar", tmp_path / "runs" / "b")
    assert sorted(path.name for path in existing.iterdir()) == [training.RUN_FILE]


def test_command_line_names_the_problem(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FER_ARTIFACTS_DIR", str(tmp_path))
    assert handover.main(["unpack", str(tmp_path / "gpu1.tar")]) == 1
    assert "Cannot read" in capsys.readouterr().err and not (tmp_path / "runs" / "gpu1" / "03_training" / "checkpoints").exists()
    assert handover.main(["train", "--run-id", "x", "-p", "epoch=1"]) == 1
    assert "Unknown parameters ['epoch']: notebook 03 declares" in capsys.readouterr().err
    assert handover.main(["train", "--run-id", "x", "-p", 'distill_from=["a.keras"]']) == 1
    assert "distill_from needs the teachers' models here" in capsys.readouterr().err
    assert handover.main(["train", "--run-id", "x", "-p", "output_dir=elsewhere"]) == 1
    assert "choose the run folder with --run-id" in capsys.readouterr().err
    for escape in (["train", "--run-id", "../x"], ["unpack", str(tmp_path / "a.tar"), "--run-id", ".."], ["unpack", ".tar"]):
        with pytest.raises(SystemExit) as stopped:  # a run folder outside artifacts/runs/ is a usage error
            handover.main(escape)
        assert stopped.value.code == 2 and "plain folder name" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # nothing was trained or written
