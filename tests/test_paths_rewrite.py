"""paths.rewrite_text: a file's text replaced whole or not at all, its line endings as they were."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deployscope.errors import DeployscopeError
from deployscope.paths import rewrite_text


@settings(max_examples=40, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("ab,\r\n\u00e9"), max_size=60))
def test_the_edit_sees_and_writes_the_bytes_as_they_are(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("rw") / "rows.csv"
    path.write_bytes(text.encode("utf-8"))
    seen: list[str] = []

    def edit(t: str) -> str:
        seen.append(t)
        return t + "x\r\n"

    rewrite_text(path, edit)
    assert seen == [text] and path.read_bytes() == (text + "x\r\n").encode("utf-8")  # CRLF kept, no translation


def test_a_failing_edit_leaves_the_file_and_no_temporary(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes(b"a,b\r\n1,2\r\n")

    def broken(t: str) -> str:
        raise ValueError("bad page")

    with pytest.raises(ValueError, match="bad page"):
        rewrite_text(path, broken)
    assert path.read_bytes() == b"a,b\r\n1,2\r\n" and [p.name for p in tmp_path.iterdir()] == ["rows.csv"]


def test_an_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(DeployscopeError, match="cannot read") as e:
        rewrite_text(tmp_path / "missing.csv", str.upper, field="--csv")
    assert e.value.field == "--csv"
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(b"caf\xe9")
    with pytest.raises(DeployscopeError, match="not UTF-8 text"):
        rewrite_text(bad, str.upper)
    assert bad.read_bytes() == b"caf\xe9"
