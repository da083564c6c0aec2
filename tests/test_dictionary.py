"""The data dictionary (issue 12, friction 7): every column of a run's files and every event name
has its meaning, in docs/RUNS.md and in the Parquet fields' own metadata, from one source."""
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner

from ctcsim import dictionary
from ctcsim.cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs" / "RUNS.md"


def test_every_event_name_has_its_meaning():
    dictionary.check()


def test_docs_hold_the_dictionary():
    assert dictionary.markdown() in DOCS.read_text()


def test_every_field_of_every_file_describes_itself(tmp_path):
    out = tmp_path / "r"
    assert CliRunner().invoke(main, ["run", "breast_antiplatelet", "-n", "200", "--seed", "1", "--events",
                                     "-o", str(out), "-q"]).exit_code == 0
    for table, fields in dictionary.TABLES.items():
        files = sorted((out / table).glob("arm=*/*.parquet"))
        assert files
        for path in files:
            schema = pq.read_schema(path)
            assert set(schema.names) | {"arm"} == set(fields), (path, set(schema.names) ^ set(fields))
            for f in schema:
                assert f.metadata[b"description"].decode() == fields[f.name], (path, f.name)
