"""Word processing of Dockerfile arguments, as Docker's shell lexer does
it: quotes removed, the escape character honoured, and $VAR, ${VAR},
${VAR:-word}, ${VAR:+word} (and the forms without a colon, and ?) expanded
from the build's environment. No command substitution, no globbing."""


class WordError(ValueError):
    pass


class _Lexer:
    def __init__(self, text: str, env: dict, escape: str):
        self.s = text
        self.i = 0
        self.env = env
        self.escape = escape

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def next(self) -> str:
        ch = self.peek()
        self.i += 1
        return ch

    def words(self, split: bool) -> list:
        """The words of the text (split on unquoted white space), or the
        whole text as one word."""
        out, cur, seen = [], [], False
        while self.i < len(self.s):
            ch = self.peek()
            if split and ch in " \t\r\n":
                self.i += 1
                if seen:
                    out.append("".join(cur))
                    cur, seen = [], False
                continue
            seen = True
            if ch == self.escape:
                self.i += 1
                if self.i >= len(self.s):
                    cur.append(ch)   # a trailing escape stays as it is
                else:
                    cur.append(self.next())
            elif ch == "'":
                self.i += 1
                cur.append(self._single())
            elif ch == '"':
                self.i += 1
                cur.append(self._double())
            elif ch == "$":
                self.i += 1
                cur.append(self._dollar())
            else:
                self.i += 1
                cur.append(ch)
        if seen:
            out.append("".join(cur))
        return out

    def _single(self) -> str:
        end = self.s.find("'", self.i)
        if end < 0:
            raise WordError("unexpected end of statement while looking for matching single-quote")
        out, self.i = self.s[self.i:end], end + 1
        return out

    def _double(self) -> str:
        out = []
        while True:
            if self.i >= len(self.s):
                raise WordError("unexpected end of statement while looking for matching double-quote")
            ch = self.next()
            if ch == '"':
                return "".join(out)
            if ch == self.escape:
                nxt = self.peek()
                if nxt in ('"', "$", self.escape) and nxt:
                    out.append(self.next())
                else:
                    out.append(ch)
            elif ch == "$":
                out.append(self._dollar())
            else:
                out.append(ch)

    def _name(self) -> str:
        start = self.i
        while self.i < len(self.s) and (self.s[self.i].isalnum() or self.s[self.i] == "_"):
            self.i += 1
        return self.s[start:self.i]

    def _dollar(self) -> str:
        ch = self.peek()
        if ch != "{":
            name = self._name()
            if not name:
                return "$"
            return self.env.get(name, "")
        self.i += 1
        name = self._name()
        if not name:
            raise WordError(f"bad substitution: {self.s}")
        ch = self.next()
        if ch == "}":
            return self.env.get(name, "")
        colon = ch == ":"
        if colon:
            ch = self.next()
        if ch not in "-+?":
            raise WordError(f"unsupported modifier ({ch}) in substitution: {self.s}")
        word = self._until_brace()
        value = self.env.get(name)
        unset = value is None or (colon and value == "")
        if ch == "-":
            return word if unset else value
        if ch == "+":
            return "" if unset else word
        if unset:
            raise WordError(f"{name}: {word or 'is not allowed to be unset'}")
        return value

    def _until_brace(self) -> str:
        """The word of a ${NAME:-word} modifier, itself processed."""
        out = []
        while True:
            if self.i >= len(self.s):
                raise WordError(f"syntax error: missing '}}' in {self.s}")
            ch = self.next()
            if ch == "}":
                return "".join(out)
            if ch == self.escape and self.i < len(self.s):
                out.append(self.next())
            elif ch == "$":
                out.append(self._dollar())
            elif ch == "'":
                out.append(self._single())
            elif ch == '"':
                out.append(self._double())
            else:
                out.append(ch)


def word(text: str, env: dict, escape: str = "\\") -> str:
    """One word: quotes removed, variables expanded."""
    out = _Lexer(text, env, escape).words(split=False)
    return out[0] if out else ""


def words(text: str, env: dict, escape: str = "\\") -> list:
    """The text split into words on unquoted white space, each processed."""
    return _Lexer(text, env, escape).words(split=True)


def split_keep_quotes(text: str, escape: str = "\\") -> list:
    """Words split on unquoted white space with their quotes and escapes
    kept (ENV and LABEL's name=value pairs, processed one by one later)."""
    out, cur, quote, i = [], [], "", 0
    while i < len(text):
        ch = text[i]
        if ch == escape and i + 1 < len(text):
            cur.append(ch + text[i + 1])
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
            cur.append(ch)
        elif ch in "'\"":
            quote = ch
            cur.append(ch)
        elif ch in " \t\r\n":
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
        i += 1
    if cur:
        out.append("".join(cur))
    return out
