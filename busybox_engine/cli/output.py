"""Output as the docker CLI lays it out: tabwriter tables, sizes, ellipses
and `--format` (table or not, with `\\t` and `\\n` as Docker reads them)."""
import sys

from busybox_engine.util import units
from busybox_engine.cli.goformat import TemplateError, render_simple, simple_template


class _Simple:
    def __init__(self, pieces):
        self.pieces = pieces

    def render(self, data) -> str:
        return render_simple(self.pieces, data)


def compile_template(src: str):
    """A template with .render(data): fields only need no engine; anything
    more is Go's text/template (gotemplate). TemplateError if it is bad."""
    pieces = simple_template(src)
    if pieces is not None:
        return _Simple(pieces)
    from busybox_engine.cli.gotemplate import Template
    return Template(src)


def human_size(n: float, precision: int = 3) -> str:
    """Sizes in Docker's tables: 3 significant digits (1.24MB)."""
    return units.human_size(n, precision)


def ellipsis(s: str, width: int) -> str:
    """Cut to width characters, the last one '…', as Docker's Ellipsis."""
    if len(s) <= width:
        return s
    if width <= 0:
        return ""
    return s[:width - 1] + "…"


def tabwrite(lines: list, minwidth: int = 10, padding: int = 3) -> str:
    """Go's tabwriter (minwidth 10, padding 3, spaces): tab-separated
    cells aligned in columns; a line's last cell is not padded."""
    rows = [line.split("\t") for line in lines]
    widths = []
    for cells in rows:
        for i, cell in enumerate(cells[:-1]):
            w = max(len(cell) + padding, minwidth)
            if i >= len(widths):
                widths.append(w)
            elif w > widths[i]:
                widths[i] = w
    out = []
    for cells in rows:
        parts = [cell.ljust(widths[i]) for i, cell in enumerate(cells[:-1])]
        parts.append(cells[-1])
        out.append("".join(parts))
    return "".join(line + "\n" for line in out)


class Formatter:
    """A `--format` value: `table ...` (a header from `headers`, aligned
    columns) or a template printed once per item."""

    def __init__(self, fmt: str, headers: dict):
        self.table = fmt.startswith("table")
        body = fmt[len("table"):] if self.table else fmt
        body = body.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
        self.template = compile_template(body)
        self.headers = headers

    def render(self, items) -> str:
        rows = [self.template.render(item) for item in items]
        if not self.table:
            return "".join(r + "\n" for r in rows)
        try:
            head = self.template.render(self.headers)
        except TemplateError:
            head = ""
        lines = [head] + rows
        text = "\n".join(lines)
        return tabwrite(text.split("\n"))


def parse_format(fmt: str, headers: dict):
    """A Formatter, or a UsageError-like message and exit 64 as Docker's."""
    try:
        return Formatter(fmt, headers)
    except TemplateError as e:
        sys.stderr.write(f"template parsing error: {e}\n")
        raise SystemExit(64) from None
