"""util.fastjson: json.loads/dumps's results and errors, without importing json."""
import json
import subprocess

import pytest

from busybox_engine.util import fastjson
from tests.helpers import PYTHON, TOP

DOCS = ['{"a": [1, 2.5, -3e10, true, false, null, "x\\u00e9\\n"], "b": {"c": "\\u00fc"}}',
        "  [1]  ", '"s"', "12", '{"a":1}\n', "[]", "{}", '{"k": "\\ud83d\\ude00"}']
BAD = ["", "  ", '{"a":1} x', "[1,", '{"a" 1}', "\ufeff{}", "tru", "{", '["\x01"]', "[1]]"]


@pytest.mark.parametrize("doc", DOCS)
def test_loads_as_json(doc):
    assert fastjson.loads(doc) == json.loads(doc)
    assert fastjson.loads(doc.encode()) == json.loads(doc.encode())


@pytest.mark.parametrize("doc", BAD)
def test_errors_as_json(doc):
    with pytest.raises(ValueError) as want:
        json.loads(doc)
    with pytest.raises(json.JSONDecodeError) as got:
        fastjson.loads(doc)
    assert str(got.value) == str(want.value)


def test_other_encodings_and_bom():
    assert fastjson.loads("[1]".encode("utf-16")) == [1]
    assert fastjson.loads("[1]".encode("utf-32-le")) == [1]
    assert fastjson.loads(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}
    with pytest.raises(TypeError):
        fastjson.loads(12)


@pytest.mark.parametrize("kw", [{}, {"separators": (",", ":")}, {"sort_keys": True},
                                {"sort_keys": True, "separators": (",", ":")}])
def test_dumps_as_json(kw):
    for o in [{"a": [1, 2.5, None, True], "\u00fc": "\u00e9\n", "n": float("inf")}, [], {}, "x", 3,
              {"b": 1, "a": {"d": 2, "c": 3}}]:
        assert fastjson.dumps(o, **kw) == json.dumps(o, **kw)
    with pytest.raises(TypeError, match="not JSON serializable"):
        fastjson.dumps({"a": object()}, **kw)


def test_imports_neither_json_nor_re():
    code = ("import sys\nfrom busybox_engine.util import fastjson as j\n"
            "j.dumps(j.loads('{\"a\": [1]}'))\nprint(sorted({'json', 're', 'enum'} & set(sys.modules)))")
    r = subprocess.run([PYTHON, "-S", "-c", code], cwd=TOP, capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"


def test_ensure_ascii_and_default():
    class Obj:
        def json_dict(self):
            return {"k": "\u00e9"}
    assert fastjson.dumps("\u00e9", ensure_ascii=False) == json.dumps("\u00e9", ensure_ascii=False)
    assert fastjson.dumps([Obj()], default=lambda o: o.json_dict()) == '[{"k": "\\u00e9"}]'
    from busybox_engine.cli import fastjson as client
    assert client.dumps({"a": [Obj(), 1]}, ensure_ascii=False) == '{"a":[{"k":"\u00e9"},1]}'


def test_dumps_indent_as_json():
    for o in [{"a": 1, "b": [1, {"c": None}], "d": {}, "e": [], "f": "\u00e9"}, [], {}, [[]], "x", 1.5]:
        assert fastjson.dumps_indent(o) == json.dumps(o, indent=2)
        assert fastjson.dumps_indent(o, "\t") == json.dumps(o, indent="\t")
