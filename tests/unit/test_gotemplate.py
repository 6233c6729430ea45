"""The Go template subset `docker --format` takes, held to what Go's
text/template (with the docker CLI's functions) prints; most cases are
the examples of Docker's "Format command and log output" page."""
import pytest

from busybox_engine.cli.gotemplate import TemplateError, render

INSPECT = {
    "Id": "abc123",
    "Name": "/web",
    "State": {"Status": "running", "Running": True, "Pid": 4242, "ExitCode": 0, "Health": None},
    "Config": {"Env": ["A=1", "B=2"], "Labels": {"b": "2", "a": "1"}, "Cmd": ["sh", "-c", "echo hi"],
               "Image": "busybox"},
    "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}},
                        "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}},
    "Mounts": [{"Source": "/a", "Destination": "/b"}],
    "SizeRw": 1000000.0,
}


@pytest.mark.parametrize("tmpl,want", [
    ("{{.Id}}", "abc123"),
    ("{{.State.Status}} {{.State.Pid}}", "running 4242"),
    ("{{.State.Running}}", "true"),
    ("{{.Nope}}", "<no value>"),
    ("{{.Nope.Deeper}}", "<no value>"),
    ("{{.Config.Env}}", "[A=1 B=2]"),
    ("{{.Config.Labels}}", "map[a:1 b:2]"),
    ("{{.State.Health}}", "<nil>"),
    ("{{.SizeRw}}", "1000000"),
    ("{{json .Config.Cmd}}", '["sh","-c","echo hi"]'),
    ("{{json .State}}", '{"Status":"running","Running":true,"Pid":4242,"ExitCode":0,"Health":null}'),
    ("{{join .Config.Cmd \" \"}}", "sh -c echo hi"),
    ("{{join .Config.Env \",\"}}", "A=1,B=2"),
    ("{{lower \"HeLLo\"}} {{upper \"x\"}} {{title \"hello world\"}}", "hello X Hello World"),
    ("{{split \"a:b:c\" \":\"}}", "[a b c]"),
    ("{{index (split \"a:b:c\" \":\") 1}}", "b"),
    ("{{len .Config.Env}}", "2"),
    ("{{index .Config.Labels \"a\"}}", "1"),
    ("{{index .Config.Labels \"zz\"}}", "<no value>"),
    ("{{(index .NetworkSettings.Ports \"80/tcp\" 0).HostPort}}", "8080"),
    ("{{range .Mounts}}{{.Source}}:{{.Destination}}{{end}}", "/a:/b"),
    ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "a=1;b=2;"),
    ("{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}", "0:A=1 1:B=2 "),
    ("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "172.17.0.2"),
    ("{{range .Nope}}x{{else}}empty{{end}}", "empty"),
    ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
    ("{{if eq .State.Status \"exited\"}}x{{else if eq .State.Status \"running\"}}r{{else}}?{{end}}", "r"),
    ("{{if and .State.Running (gt .State.Pid 0)}}ok{{end}}", "ok"),
    ("{{if not .State.ExitCode}}zero{{end}}", "zero"),
    ("{{with .Config}}{{.Image}}{{end}}", "busybox"),
    ("{{with .Nope}}x{{else}}none{{end}}", "none"),
    ("{{$n := .Name}}{{$n}}", "/web"),
    ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2"),
    ("{{.Name | printf \"%q\"}}", '"/web"'),
    ("{{printf \"%-6s|%5d|%.2f|%v\" \"ab\" 42 3.14159 true}}", "ab    |   42|3.14|true"),
    ("{{printf \"%s\" 1}}", "1"),
    ("{{println \"a\" 1}}", "a 1\n"),
    ("{{print 1 2 \"x\" 3}}", "1 2x3"),
    ("{{pad \"x\" 2 1}}|", "  x |"),
    ("{{truncate \"abcdef\" 3}}", "abc"),
    ("a  {{- \" b \" -}}  c", "a b c"),
    ("{{/* a comment */}}x", "x"),
    ("{{- /* trimmed */ -}} x", "x"),
    ("{{`raw \\n`}}", "raw \\n"),
    ("{{\"tab\\tx\"}}", "tab\tx"),
    ("{{range .Config.Env}}{{if eq . \"B=2\"}}{{break}}{{end}}{{.}} {{end}}", "A=1 "),
    ("{{range .Config.Env}}{{if eq . \"A=1\"}}{{continue}}{{end}}{{.}}{{end}}", "B=2"),
    ("{{$.Id}}{{range .Mounts}}{{$.Name}}{{end}}", "abc123/web"),
    ("{{or .Nope \"default\"}}", "default"),
    ("{{ne 1 2}} {{le 2 2}} {{lt \"a\" \"b\"}} {{ge 1 2}}", "true true true false"),
    ("{{eq .State.Status \"x\" \"running\"}}", "true"),
    ("{{slice \"abcdef\" 1 3}}", "bc"),
    ("{{json .Nope}}", "null"),
    ("{{json \"<&>\"}}", '"<&>"'),
    ("{{.Config.Labels.a}}", "1"),
    ("{{.ID}} {{.STATE.pid}}", "abc123 4242"),     # Go field names: the JSON key by case
])
def test_renders_as_go_does(tmpl, want):
    assert render(tmpl, INSPECT) == want


class Row:
    """A `ps` row: methods the template calls, one with an argument."""

    def ID(self):
        return "0123456789ab"

    def Label(self, name):
        return {"com.x": "y"}.get(name, "")

    def json_dict(self):
        return {"ID": self.ID()}


def test_methods_and_arguments_on_objects():
    assert render("{{.ID}} {{.Label \"com.x\"}}|{{.Label \"no\"}}|", Row()) == "0123456789ab y||"
    assert render("{{json .}}", Row()) == '{"ID":"0123456789ab"}'
    with pytest.raises(TemplateError, match="can't evaluate field Nope"):
        render("{{.Nope}}", Row())


@pytest.mark.parametrize("tmpl,message", [
    ("{{.Id", "unclosed action"),
    ("{{end}}", "unexpected {{end}}"),
    ("{{if .Id}}x", "unexpected EOF"),
    ("{{nosuch .Id}}", 'function "nosuch" not defined'),
    ("{{\"open}}", "unterminated quoted string"),
    ("{{(.Id}}", "unclosed left paren"),
    ("{{}}", "missing value for command"),
])
def test_bad_templates_fail_to_parse_with_go_words(tmpl, message):
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("(", r"\(")) as e:
        render(tmpl, INSPECT)
    assert str(e.value).startswith("template: :")


@pytest.mark.parametrize("tmpl", ["{{.State.Health.Status}}", "{{index .Config.Env 5}}",
                                  "{{len 3}}", "{{.Id.Foo}}", "{{range 1.5}}{{end}}", "{{$nope}}"])
def test_failures_when_run(tmpl):
    with pytest.raises(TemplateError):
        render(tmpl, INSPECT)
