"""The one step every piece of untrusted text passes through before sitrep returns it.

Log lines, commit messages, diffs and backend error messages come from systems the model must
not trust: they can carry credentials, and text written to be read as instructions. Every output
path calls `sanitize`, which first removes what a reader cannot see (`strip_invisible`), so hidden
characters can neither smuggle instructions past a human nor split a secret to slip it past the
patterns, and then replaces secrets with a marker naming their kind (`redact`):

    >>> sanitize("GET /orders?user=7&token=abc123 took 5 ms")
    'GET /orders?user=7&token=[REDACTED:token] took 5 ms'

Redaction is narrow on purpose: text is replaced only where a known credential shape (`ghp_…`,
`AKIA…`, a JWT, a PEM block) or a secret-named key (`password=`, `"api_key": …`, `Authorization:`)
says it is a secret. Trace ids, span ids, UUIDs, SHAs and request ids stay, because triage needs
them, and the text around a secret stays so the line still reads. Choices at the edges:

- A key must end in the secret word: `db_password=x` and `X-Auth-Token: x` are redacted, while
  `token_count=5`, `tokens=812` (usage counts in LLM and tokenizer logs), `password_reset_requested`
  and `secret_santa` are not.
- Placeholders such as `null`, `***`, `<hidden>` or `${DB_PASSWORD}` are kept: they hold no secret
  and show how a setting was wired.
- `session_id` and `sid` are kept as correlation ids; session *cookies* (`JSESSIONID=`,
  `sessionid=`, `session=`, `*_session=`, every value of a `Cookie:` header) are redacted.
- An unquoted value ends at whitespace or at `& , ; ) ] } < >`; quote a value to keep it whole.
- Code in a diff keeps the names it uses: `password=password`, `token = get_token()`,
  `api_key = settings.api_key`, `password: str`. A status word is prose, not a secret:
  `Invalid token: expired`.

Not covered: a secret with no name and no known shape (a bare 40-character AWS secret key, a
password alone in prose, key lines printed one log record each), double URL-encoding,
look-alike letters in a key (`pаssword` with a Cyrillic а), and a password that is itself a
status word or ends with its key's name (`password=mypassword`).

Speed: most lines hold no secret. `redact` lower-cases a line once and runs a pattern only when
its clue (a substring every match must contain, tested with `in`) is present, and a one-character
test, which is a memchr, guards the rarer clues.
"""

from __future__ import annotations

import re

__all__ = ["redact", "sanitize", "strip_invisible"]


def sanitize(text: str) -> str:
    """Make untrusted text safe to show the model: strip invisible characters, then redact secrets."""
    if text.isascii():
        # One pass finds control characters and lower-cases for the redaction clues.
        raw = text.encode("ascii")
        low = raw.translate(_ASCII_LOWER, _ASCII_CONTROLS)
        if len(low) == len(raw):
            return _redact(text, low.decode("ascii"))
    return redact(strip_invisible(text))


# ---------------------------------------------------------------------------------------------
# Invisible characters

_ASCII_CONTROLS = bytes([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])
"""C0 controls and DEL, but not tab or newline."""
_ASCII_LOWER = bytes(range(256)).lower()

# Unicode 14 (Python 3.11). A test checks this against `unicodedata` of the running Python, so a
# newer Unicode that adds format characters fails the build instead of letting them through.
_INVISIBLE = re.compile(
    "["
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 and C1 controls, except tab and newline
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e007f"  # tag characters, which can spell out hidden ASCII
    # Lone surrogates are not text; they only arrive through lossy decoding and would make the
    # UTF-8 encoding of a tool result fail.
    "\ud800-\udfff"
    "]"
)


# Terminal escape sequences go whole, not just their ESC, which would leave `[31m` behind: colours,
# cursor moves, and OSC 8 hyperlinks, which show one text and point somewhere else.
_TERMINAL_ESCAPE = re.compile(
    r"""(?x) \x1b
    (?: \[ [0-?]* [ -/]* [@-~]                      # CSI: colours, cursor moves
      | [\]PX^_] [^\x07\x1b]* (?:\x07|\x1b\\)?     # OSC, DCS, SOS, PM, APC strings, to BEL or ST
      | [!-/]+ [0-~]                              # character set selection and the like
      | [0-~] )?
    """
)


def strip_invisible(text: str) -> str:
    """Remove invisible, bidi-control and other format/control characters except tab and newline.

    Terminal escape sequences go whole. Everything else stays, in any script, emoji included
    (though a zero-width joiner inside an emoji sequence goes, leaving its parts side by side).
    """
    if "\x1b" in text:
        text = _TERMINAL_ESCAPE.sub("", text)
    if text.isascii():
        raw = text.encode("ascii")
        kept = raw.translate(None, _ASCII_CONTROLS)
        return text if len(kept) == len(raw) else kept.decode("ascii")
    return _INVISIBLE.sub("", text)


# ---------------------------------------------------------------------------------------------
# Secrets


def redact(text: str) -> str:
    """Replace secrets with `[REDACTED:<kind>]`, keeping the text around them."""
    return _redact(text, text.lower())


def _redact(text: str, low: str) -> str:
    redacted = _redact_once(text, low)
    # Again until nothing changes, so that redact(redact(x)) == redact(x) holds by construction:
    # one replacement can leave a shape that another pattern finds only in a second pass.
    # `re.sub` returns its argument itself when nothing matched, so the usual case costs nothing.
    for _ in range(3):
        if redacted is text or redacted == text:
            break
        text, redacted = redacted, _redact_once(redacted, redacted.lower())
    return redacted


def _redact_once(text: str, low: str) -> str:
    shaped = _redact_shapes(text)
    return _redact_keyed(shaped, low if shaped is text else shaped.lower())


# The tests below run on every line, and most lines hold no secret, so each pattern is guarded by
# substrings its matches must contain. A one-character `in` is a memchr and nearly free; a longer
# one scans the line, so it is guarded by a one-character test where a rare character allows.


def _redact_shapes(text: str) -> str:
    """Secrets recognised by their own shape, wherever they stand."""
    if "PRIVATE KEY" in text:
        text = _redact_private_keys(text)
    if "J" in text and "eyJ" in text:
        text = _JWT.sub(_marker("jwt"), text)
    if _may_hold_provider_token(text):
        text = _PROVIDER_TOKEN.sub(_provider_token, text)
    if "/" in text and "hooks" in text:
        text = _WEBHOOK.sub(_webhook, text)
    if "@" in text and "://" in text:
        text = _URL_PASSWORD.sub(_url_password, text)
    return text


def _redact_keyed(text: str, low: str) -> str:
    """Secrets recognised by the name in front of them: a header, a cookie, a secret-named key."""
    if "z" in low and "authoriz" in low:
        text = _AUTHORIZATION.sub(_authorization, text)
    if "bearer" in low:
        text = _BARE_BEARER.sub(_bare_bearer, text)
    if "k" in low and "cookie" in low:
        text = _COOKIE_HEADER.sub(_cookie_header, text)
    if "=" in text and "sess" in low:
        text = _SESSION_COOKIE.sub(_session_cookie, text)
    if _may_hold_key_value(low):
        text = _NAMED_VALUE.sub(_key_value, text)
        text = _KEY_VALUE.sub(_key_value, text)
        if "<" in text:
            text = _XML_ELEMENT.sub(_key_value, text)
    return text


def _marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


_MARKER_PREFIX = "[REDACTED:"


def _splice(match: re.Match[str], group: str, kind: str) -> str:
    """The whole match with `group` replaced by a marker."""
    start, end = match.span(group)
    return match.string[match.start() : start] + _marker(kind) + match.string[end : match.end()]


# Private-key blocks: whole, cut off after BEGIN, or cut off before END. Inside JSON their newlines
# arrive escaped as the two characters `\n`.
_PEM_BEGIN = r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
_PEM_BODY = r"[A-Za-z0-9+/=\s\\:,-]*+"  # base64, newlines (raw or escaped), Proc-Type/DEK-Info
# The search for END stops at the next BEGIN, so many BEGINs cost one pass, not one each.
_PEM_BLOCK = re.compile(rf"{_PEM_BEGIN}(?:(?:(?!-----BEGIN).)*?{_PEM_END}|{_PEM_BODY})", re.DOTALL)
_PEM_HEADLESS_END = re.compile(_PEM_END)
_PEM_BODY_REVERSED = re.compile(r"[A-Za-z0-9+/=\s\\:,-]*")


def _redact_private_keys(text: str) -> str:
    text = _PEM_BLOCK.sub(_marker("private-key"), text)
    return _redact_headless_keys(text) if "-----END" in text else text


def _redact_headless_keys(text: str) -> str:
    """An END left with no BEGIN (the line was split or cut): the body before it goes too."""
    # The body is found by matching backwards on the reversed text, once for all ENDs.
    backwards = text[::-1]
    pieces: list[str] = []
    done = 0
    for end in _PEM_HEADLESS_END.finditer(text):
        body = _PEM_BODY_REVERSED.match(backwards, len(text) - end.start(), len(text) - done)
        start = len(text) - body.end() if body else end.start()
        pieces += [text[done:start], _marker("private-key")]
        done = end.end()
    return "".join(pieces) + text[done:]


_PROVIDER_TOKEN = re.compile(
    r"""(?x)
    (?<![A-Za-z0-9])
    (?: (?P<github_token> gh[pousr]_[A-Za-z0-9]{20,} | github_pat_[A-Za-z0-9_]{20,} )
      | (?P<stripe_key> [sr]k_(?:live|test)_[A-Za-z0-9]{10,} )
      | (?P<aws_access_key_id> (?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9]) )
      | (?P<google_api_key> AIza[A-Za-z0-9_-]{30,} )
      | (?P<slack_token> xox[abposr]-[A-Za-z0-9-]{10,} | xapp-[0-9]-[A-Za-z0-9-]{10,} )
    )
    """
)
# Two segments are enough: a token cut off before its signature still carries its claims.
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?")


def _provider_token(match: re.Match[str]) -> str:
    return _marker(str(match.lastgroup).replace("_", "-"))


def _may_hold_provider_token(text: str) -> bool:
    return (
        ("_" in text and ("gh" in text or "k_" in text or "_pat_" in text))
        or (
            "A" in text
            and (("K" in text and "AKIA" in text) or "ASIA" in text or ("z" in text and "AIza" in text))
        )
        or ("x" in text and ("xox" in text or "xapp-" in text))
    )


_WEBHOOK = re.compile(
    r"(?i)(?P<base>hooks\.slack\.com/(?:services|workflows|triggers)/|discord(?:app)?\.com/api/webhooks/)"
    r"(?P<secret>[A-Za-z0-9_/-]+)"
)


def _webhook(match: re.Match[str]) -> str:
    return match["base"] + _marker("slack-webhook" if "slack" in match["base"].lower() else "webhook")


# Anchored on the literal `://` so the regex engine can skip ahead with a fast substring search.
_URL_PASSWORD = re.compile(r"://(?P<user>[^\s:/?#@\"'<>]*):(?P<password>[^\s/?#@\"'<>]+)@")


def _url_password(match: re.Match[str]) -> str:
    if match["password"].startswith(_MARKER_PREFIX):
        return match.group(0)
    return _splice(match, "password", "url-password")


_QUOTE = r"""(?:\\?["'])"""  # a quote, or an escaped one inside a JSON string
# A header's value in the spellings we meet: inside an escaped JSON string, double- or
# single-quoted, in a Go header map's brackets, or bare to the end of the line.
_HEADER_VALUE = r"""
    (?: \\"(?P<escaped>(?:(?!\\").)*) | "(?P<double>(?:[^"\\\r\n]|\\.)*) | '(?P<single>[^'\r\n]*)
      | \[(?!REDACTED:)(?P<bracket>[^\]\r\n]*) | (?P<bare>[^\r\n]*) )
"""
_HEADER_GROUPS = ("escaped", "double", "single", "bracket", "bare")


def _header_value(match: re.Match[str]) -> str:
    """The name of the group that holds the header value."""
    found = match.groupdict()
    return next(group for group in _HEADER_GROUPS if found.get(group) is not None)


_AUTHORIZATION = re.compile(rf"(?ix) authorization {_QUOTE}?[ \t]*[:=][ \t]* {_HEADER_VALUE}")
_SCHEME_AND_CREDENTIAL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9-]*)[ \t]+(?P<credential>\S.*)", re.DOTALL)
_TOKEN68 = re.compile(r"[A-Za-z0-9._~+/=-]+")
_TOKEN68_SCHEMES = {
    "bearer": "bearer-token",
    "basic": "basic-auth",
    "token": "token",
    "apikey": "api-key",
    "negotiate": "authorization",
    "ntlm": "authorization",
    "dpop": "authorization",
}
# Schemes whose credential is a list of parameters: the whole rest of the value goes.
_PARAMETER_SCHEMES = {
    "digest",
    "aws4-hmac-sha256",
    "hmac-sha256",
    "sharedkey",
    "sharedkeylite",
    "hoba",
    "mac",
}


def _authorization(match: re.Match[str]) -> str:
    group = _header_value(match)
    value = match[group]
    if not value.strip() or value.startswith(_MARKER_PREFIX):
        return match.group(0)
    start, end = match.span(group)
    return match.string[match.start() : start] + _redact_credential(value) + match.string[end : match.end()]


def _redact_credential(value: str) -> str:
    """`value` with its credential replaced, keeping the scheme and what follows a token."""
    parts = _SCHEME_AND_CREDENTIAL.fullmatch(value)
    scheme = parts["scheme"].lower() if parts else value.strip().lower()
    if parts is None and scheme in _TOKEN68_SCHEMES.keys() | _PARAMETER_SCHEMES:
        return value  # a scheme with no credential
    if parts is not None and parts["credential"].startswith(_MARKER_PREFIX):
        return value
    if parts is not None and scheme in _TOKEN68_SCHEMES:
        start = parts.start("credential")
        token = _TOKEN68.match(value, start)
        return value[:start] + _marker(_TOKEN68_SCHEMES[scheme]) + value[token.end() if token else start :]
    if parts is not None and scheme in _PARAMETER_SCHEMES:
        return value[: parts.start("credential")] + _marker("authorization")
    # No scheme we know: all of the value up to a separator may be the credential.
    end = min((i for i in (value.find(","), value.find(";")) if i >= 0), default=len(value))
    return _marker("authorization") + value[end:]


# A bearer token outside an Authorization header, e.g. `sending Bearer abc…` or `-H 'Bearer abc…'`.
_BARE_BEARER = re.compile(r"(?i)\bbearer[ \t]+(?P<token>[A-Za-z0-9._~+/-]{16,}=*)")


def _bare_bearer(match: re.Match[str]) -> str:
    # Prose such as "bearer authentication" is all letters of one case; a token is not.
    token = match["token"]
    if any(c.isdigit() for c in token) or (token.lower() != token and token.upper() != token):
        return _splice(match, "token", "bearer-token")
    return match.group(0)


_COOKIE_HEADER = re.compile(
    rf"""(?ix) (?P<name>(?:set-)?cookie) {_QUOTE}?[ \t]*[:=][ \t]*
    (?: \\"(?P<escaped>(?:(?!\\").)*) | "(?P<double>[^"\r\n]*) | '(?P<single>[^'\r\n]*)
      | \[?(?P<bare>[^\r\n\]}},"'\\]*) )
    """
)
# A name starts after `;` or a space and is read possessively, so a long run with no `=` costs
# one pass rather than one per starting position.
_COOKIE_PAIR = re.compile(r"(?<![^;\s])(?P<name>[^=;\s]++)=(?P<value>[^;]*)")


def _cookie_header(match: re.Match[str]) -> str:
    group = next(g for g in ("escaped", "double", "single", "bare") if match[g] is not None)
    count = 1 if match["name"].lower() == "set-cookie" else 0  # Set-Cookie: attributes after the pair
    value = _COOKIE_PAIR.sub(_cookie_pair, match[group], count=count)
    start, end = match.span(group)
    return match.string[match.start() : start] + value + match.string[end : match.end()]


def _cookie_pair(match: re.Match[str]) -> str:
    value = match["value"].rstrip()
    if not value or value.startswith(_MARKER_PREFIX):
        return match.group(0)
    return match["name"] + "=" + _marker("cookie") + match["value"][len(value) :]


_SESSION_COOKIE = re.compile(
    r"""(?ix) (?<![\w.-])
    (?: jsessionid | phpsessid | aspsessionid\w* | asp\.net_sessionid | sessionid | session
      | [\w.-]*_session )
    =(?P<value>[^\s;,&"'<>\\)\]}]+)
    """
)


def _session_cookie(match: re.Match[str]) -> str:
    if match["value"].startswith(_MARKER_PREFIX):
        return match.group(0)
    return _splice(match, "value", "cookie")


# Key/value pairs whose key ends in a secret word. The word must end the key, so `token_count=5`
# and `password_reset_requested` do not match; nothing before it is required, so `db_password`,
# `X-Auth-Token` and `client_secret` do.
_SECRET_WORD = r"""
    (?P<key> secret[_-]?access[_-]?key | api[_-]?key | secret[_-]?key | private[_-]?key
           | passw(?:or)?d | pwd | secret | token )
"""
_KEY_KINDS = (
    ("access", "aws-secret-key"),
    ("api", "api-key"),
    ("private", "private-key"),
    ("pass", "password"),
    ("pwd", "password"),
    ("secret", "secret"),
    ("token", "token"),
)
# The value in every spelling we meet: quoted inside a JSON string (`\"…\"`), double- or
# single-quoted, URL-encoded quotes (`%22…%22`), or bare. A missing closing quote (a cut line)
# takes the rest of the line.
_VALUE = r"""
    (?: \\"(?P<escaped>(?:(?!\\").)+)(?:\\")?
      | "(?P<double>(?:[^"\\\r\n]|\\.)+)"?
      | '(?P<single>[^'\r\n]+)'?
      | %22(?P<encoded>(?:(?!%22)[^\s"'&])+)(?:%22)?
      | (?P<bare> \$?\{\{[^{}\r\n]*\}\} | \$\{[^{}\s]*\}                  # {{ template }}, ${VAR}
               | (?:[^\s"'&,;()<>\[\]{}\\%] | %(?!2[26c]|3b|7d|0[ad]) | \\(?![nrt"'\\/]))+ )
    )
"""
_VALUE_GROUPS = ("escaped", "double", "single", "encoded", "bare")
_KEY_VALUE = re.compile(
    _SECRET_WORD
    + r"""
    (?:\\?["']|%22|%27)?                                          # the quote closing a quoted key
    (?: [ \t]*(?:=>|:=|=(?!=)|:(?!:))[ \t]* | %3[ad](?:%20|\+)* )  # = : => := or URL-encoded = :
    """
    + _VALUE,
    re.IGNORECASE | re.VERBOSE,
)
# A secret split across fields: the key names the secret, the next field holds it, as in
# `{"name": "DB_PASSWORD", "value": "…"}`, `EnvVar(name=API_KEY, value=…)` or Kubernetes YAML.
_NAMED_VALUE = re.compile(
    r"""
    (?<![\w-])(?:name|key)(?:\\?["'])?[ \t]*[:=][ \t]*(?:\\?["'])?[\w.-]*?"""
    + _SECRET_WORD
    + r"""
    (?:\\?["'])?[ \t]*[,;]?\s*(?:\\?["'])?value(?:\\?["'])?[ \t]*[:=][ \t]*
    """
    + _VALUE,
    re.IGNORECASE | re.VERBOSE,
)
_XML_ELEMENT = re.compile(
    r"<(?P<tag>[\w:.-]*?" + _SECRET_WORD + r")>(?P<bare>[^<]+)</(?P=tag)>", re.IGNORECASE | re.VERBOSE
)
# Values that hold no secret: leave them, they show how a setting was wired.
_PLACEHOLDER = re.compile(
    r"""(?ix) null | none | nil | undefined | true | false | \*+ | x{3,}
    | <[^<>]*> | \$\{[^}]*\} | \$?\{\{[^}]*\}\} | \[redacted[^\]]*\]
    | \(redacted\) | redacted | \[filtered\] | \[masked\] | %s | \?
    | str | string | bytes | secretstr          # a type annotation in a diff: `password: str`
    # A status word, as in the prose of `Invalid token: expired`.
    | expired | invalid | missing | required | empty | incorrect | wrong | mismatch | malformed
    | rejected | revoked | denied | unauthorized | forbidden | failed | error | unknown | ok | valid
    | accepted | verified | changed | updated | rotated | refreshed | reset | set | unset | provided
    | present | absent | hidden | masked | not | no | yes
    """
)
_IDENTIFIER_CHAIN = re.compile(r"[A-Za-z_][\w.]*")


def _key_value(match: re.Match[str]) -> str:
    found = match.groupdict()
    group = next(g for g in _VALUE_GROUPS if found.get(g) is not None)
    if _holds_no_secret(match, group):
        return match.group(0)
    key = match["key"].lower()
    kind = next(kind for word, kind in _KEY_KINDS if word in key)
    return _splice(match, group, kind)


def _holds_no_secret(match: re.Match[str], group: str) -> bool:
    """A marker, a placeholder, or code in a diff that names the secret rather than holding it."""
    value = match[group]
    if value.startswith(_MARKER_PREFIX) or _PLACEHOLDER.fullmatch(value):
        return True
    if group != "bare" or not _IDENTIFIER_CHAIN.fullmatch(value):
        return False
    # `token = get_token()`, `os.environ["DB_PASSWORD"]`, `password=password`, `settings.api_key`
    after = match.string[match.end(group) : match.end(group) + 1]
    return after in ("(", "[") or value.lower().endswith(match["key"].lower())


def _may_hold_key_value(low: str) -> bool:
    return (
        "secret" in low
        or ("w" in low and ("passw" in low or "pwd" in low))
        or ("k" in low and ("token" in low or "key" in low))
    )
