import json
import shutil

import pytest

from ferbench.cli.main import main
from ferbench.settings import get_settings


def _run(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(list(args))
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return info.value.code or 0, out, err


def test_preprocess_prints_the_report_and_datasets_lists_it(tiny_fer, capsys):
    code, out, err = _run(capsys, "preprocess", "--source", str(tiny_fer.archive), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["name"] == "fer2013" and report["images"] == len(tiny_fer.labels)
    assert report["split_sizes"]["test"] == int(tiny_fer.is_test.sum())
    assert report["duplicates"]["across"]["train-test"] == 0
    code, out, _ = _run(capsys, "preprocess", "--source", str(tiny_fer.archive))
    assert code == 0 and "exact duplicates across splits" in out and "Happy" in out
    code, out, _ = _run(capsys, "datasets", "--json")
    listed = {d["name"]: d for d in json.loads(out)}
    assert listed["fer2013"]["present"] and listed["fer2013"]["cached"]
    assert sum(listed["fer2013"]["split_sizes"].values()) == len(tiny_fer.labels)
    code, out, _ = _run(capsys, "datasets")
    assert code == 0 and "synthetic" in out and "3360/420/420" in out


def test_preprocess_finds_fer2013_in_the_data_dir(tiny_fer, capsys):
    data_dir = get_settings().data_dir
    (data_dir / "fer2013").mkdir(parents=True)
    shutil.copy(tiny_fer.csv, data_dir / "fer2013" / "fer2013.csv")
    code, out, err = _run(capsys, "preprocess")
    assert code == 0, err
    assert "csv" in out


def test_preprocess_errors_are_one_line_with_exit_1(tmp_path, capsys):
    code, out, err = _run(capsys, "preprocess", "--source", str(tmp_path / "nowhere"))
    assert code == 1 and "nowhere" in err and "Accepted layouts" in err and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("emotion,pixels,Usage\n0,1 2 3,Training\n")
    code, _, err = _run(capsys, "preprocess", "--source", str(bad))
    assert code == 1 and "line 2" in err and "--skip-bad" in err
    code, _, err = _run(capsys, "preprocess", "--source", str(bad), "--skip-bad")
    assert code == 1 and "no usable data rows" in err
