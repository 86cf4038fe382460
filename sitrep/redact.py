"""The one step every piece of untrusted text passes through before sitrep returns it.

Log lines, commit messages, diffs and backend error messages come from systems the model must
not trust: they can carry credentials, and text written to be read as instructions. Every output
path calls `sanitize`, which first removes what a reader cannot see (`strip_invisible`), so hidden
characters can neither smuggle instructions past a human nor split a secret to slip it past the
patterns, and then replaces secrets with a marker naming their kind (`redact`):

    >>> sanitize("GET /orders?user=7&token=abc123 took 5 ms")
    'GET /orders?user=7&token=[REDACTED:token] took 5 ms'

Redaction is narrow on purpose: text is replaced only where a known credential shape (`ghp_…`,
`AKIA…`, `sk-proj-…`, `glpat-…`, a JWT, a PEM block; the shapes follow gitleaks' rule set), a
secret-named key (`password=`, `"api_key": …`, `AccountKey=`, `Ocp-Apim-Subscription-Key:`,
`Authorization:`), a `user:password@host` or a base64 blob whose text is itself a secret
assignment says it is a secret. Trace ids, span ids, UUIDs, SHAs and request ids stay, because triage needs
them, and the text around a secret stays so the line still reads. Choices at the edges:

- A key must end in the secret word: `db_password=x` and `X-Auth-Token: x` are redacted, while
  `token_count=5`, `tokens=812` (usage counts in LLM and tokenizer logs), `password_reset_requested`
  and `secret_santa` are not. `pass`, `pw` and `sig` count only after a separator (`DB_PASS=`,
  `&sig=`), and `key` only with a word that makes it a secret (`AccountKey`, `master_key`) or as
  a header (`X-Functions-Key:`), so `routing_key=`, `X-Idempotency-Key:` and `pass=3` stay.
- `user:password@host` without a scheme goes unless the user is a label (`mailto:a@b.c`,
  `to:…`), the host a digest, a line number or a hash code (`img:1.2@sha256:…`,
  `[main:Peer@127]`, `x:pkg.Class@1b6d3586`).
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
look-alike letters in a key (`pаssword` with a Cyrillic а), a password that is itself a
status word or ends with its key's name (`password=mypassword`), and a base64 blob whose text names
its secret in none of pass, pwd, secret, token, key (in lower, upper or title case).

Speed: most lines hold no secret. `redact` lower-cases a line once and runs a pattern only when
its clue (a substring every match must contain, tested with `in`) is present, and a one-character
test, which is a memchr, guards the rarer clues.
"""

from __future__ import annotations

import base64
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

# Unicode's Default_Ignorable_Code_Point property, written out because `unicodedata` does not
# expose it: per DerivedCoreProperties.txt it is Other_Default_Ignorable_Code_Point + Cf +
# Variation_Selector, minus White_Space, the interlinear annotation characters U+FFF9-FFFB, the
# Egyptian format controls U+13430-1343F and the prepended concatenation marks. Renderers draw
# nothing for these, which is what lets a 73-byte instruction ride as variation selectors after an
# emoji. We strip the whole set, reserved code points included (a newer Unicode may assign them),
# plus the exceptions above (format characters all the same), C0/C1 controls and lone surrogates.
# Tests derive the set independently from `unicodedata` and check the two agree.
_DEFAULT_IGNORABLE = (
    "\u00ad"  # soft hyphen
    "\u034f"  # combining grapheme joiner
    "\u061c"  # Arabic letter mark
    "\u115f\u1160"  # Hangul choseong and jungseong fillers
    "\u17b4\u17b5"  # Khmer inherent vowels
    "\u180b-\u180f"  # Mongolian free variation selectors and vowel separator
    "\u200b-\u200f"  # zero-width space, joiners, LRM, RLM
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2060-\u206f"  # word joiner, invisible operators, bidi isolates, deprecated format controls
    "\u3164"  # Hangul filler
    "\ufe00-\ufe0f"  # variation selectors 1-16
    "\ufeff"  # zero-width no-break space (BOM)
    "\uffa0"  # halfwidth Hangul filler
    "\ufff0-\ufff8"  # reserved
    "\U0001bca0-\U0001bca3"  # shorthand format controls
    "\U0001d173-\U0001d17a"  # musical beam and phrase controls
    "\U000e0000-\U000e0fff"  # tag characters (which can spell hidden ASCII), variation selectors 17-256
)
_FORMAT_NOT_IGNORABLE = (
    "\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd"  # prepended concatenation marks
    "\ufff9-\ufffb"  # interlinear annotation
    "\U00013430-\U0001343f"  # Egyptian hieroglyph format controls
)
_INVISIBLE = re.compile(
    "["
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 and C1 controls, except tab and newline
    + _DEFAULT_IGNORABLE
    + _FORMAT_NOT_IGNORABLE
    # Lone surrogates are not text; they only arrive through lossy decoding and would make the
    # UTF-8 encoding of a tool result fail.
    + "\ud800-\udfff"
    "]"
)
# Line and paragraph separators end a line in some readers and not in others; a space keeps the
# words apart without letting text pose as a new line.
_LINE_SEPARATORS = {0x2028: " ", 0x2029: " "}


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
    """Remove Unicode's default-ignorable characters (zero-width, bidi controls, variation selectors,
    tag characters, Hangul fillers...), other format characters and controls except tab and newline.

    Terminal escape sequences go whole; U+2028 and U+2029 become spaces. Everything else stays, in
    any script, emoji included (though a zero-width joiner or variation selector inside an emoji
    sequence goes, leaving its visible parts side by side).
    """
    if "\x1b" in text:
        text = _TERMINAL_ESCAPE.sub("", text)
    if text.isascii():
        raw = text.encode("ascii")
        kept = raw.translate(None, _ASCII_CONTROLS)
        return text if len(kept) == len(raw) else kept.decode("ascii")
    text = _INVISIBLE.sub("", text)
    if "\u2028" in text or "\u2029" in text:
        text = text.translate(_LINE_SEPARATORS)
    return text


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
    if "@" in text and ":" in text:
        if "://" in text:
            text = _URL_PASSWORD.sub(_url_password, text)
        text = _BARE_CREDENTIAL.sub(_bare_credential, text)
    if _may_hold_encoded_secret(text):
        text = _BASE64_RUN.sub(_encoded_secret, text)
    return text


def _redact_keyed(text: str, low: str) -> str:
    """Secrets recognised by the name in front of them: a header, a cookie, a secret-named key."""
    if "z" in low and "authoriz" in low:
        text = _AUTHORIZATION.sub(_authorization, text)
    if "bearer" in low:
        text = _BARE_BEARER.sub(_bare_bearer, text)
    if "basic " in low or "basic\t" in low:
        text = _BARE_BASIC.sub(_bare_basic, text)
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


# Token shapes after gitleaks' rule set (cmd/generate/config/rules/*.go), each anchored on its
# documented prefix; lengths are minimums where a provider does not promise one, so a token cut off
# by a log line's end still goes.
_PROVIDER_TOKEN = re.compile(
    r"""(?x)
    (?<![A-Za-z0-9])
    (?: (?P<github_token> gh[pousr]_[A-Za-z0-9]{20,} | github_pat_[A-Za-z0-9_]{20,} )
      | (?P<gitlab_token> gl(?:pat|dt|ptt|rt|cbt|ft|imt|agent|oas|soat|ffct)-[\w-]{20,}(?:\.[a-z0-9]{9})?
                        | GR1348941[\w-]{20,} )
      | (?P<stripe_webhook_secret> whsec_[A-Za-z0-9+/=]{24,} )
      | (?P<stripe_key> [sr]k_(?:live|test|prod)_[A-Za-z0-9]{10,} )
      | (?P<anthropic_key> sk-ant-[a-z]{2,8}[0-9]{2}-[\w-]{20,} )
      | (?P<openai_key> sk-(?:proj|svcacct|admin)-[\w-]{20,} | sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20} )
      | (?P<aws_access_key_id> (?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9]) )
      | (?P<google_api_key> AIza[A-Za-z0-9_-]{30,} )
      | (?P<google_oauth_token> ya29\.[\w-]{20,} )
      | (?P<npm_token> npm_[A-Za-z0-9]{36}(?![A-Za-z0-9]) )
      | (?P<huggingface_token> (?:hf|api_org)_[A-Za-z]{34}(?![A-Za-z0-9]) )
      | (?P<sendgrid_key> SG\.[\w-]{16,32}\.[\w-]{16,64} )
      | (?P<slack_token> (?:xoxe\.)?xox[abposre]-[A-Za-z0-9-]{10,} | xapp-[0-9]-[A-Za-z0-9-]{10,} )
    )
    """
)
# Two segments are enough: a token cut off before its signature still carries its claims.
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?")


def _provider_token(match: re.Match[str]) -> str:
    return _marker(str(match.lastgroup).replace("_", "-"))


def _may_hold_provider_token(text: str) -> bool:
    return (
        ("_" in text and ("gh" in text or "k_" in text or "_pat_" in text or "hf_" in text or "npm_" in text))
        or ("_" in text and ("whsec_" in text or "api_org_" in text))
        or ("-" in text and ("sk-" in text or "gl" in text or "xox" in text or "xapp-" in text))
        or (
            "A" in text
            and (("K" in text and "AKIA" in text) or "ASIA" in text or ("z" in text and "AIza" in text))
        )
        or ("." in text and ("ya29." in text or "SG." in text))
        or "GR1348941" in text
    )


_WEBHOOK = re.compile(
    r"(?i)(?P<base>hooks\.slack\.com/(?:services|workflows|triggers)/|discord(?:app)?\.com/api/webhooks/)"
    r"(?P<secret>[A-Za-z0-9_/-]+)"
)


def _webhook(match: re.Match[str]) -> str:
    return match["base"] + _marker("slack-webhook" if "slack" in match["base"].lower() else "webhook")


# Anchored on the literal `://` so the regex engine can skip ahead with a fast substring search.
# The password runs to the last `@` before the path: an unencoded `@` in it is common enough.
_URL_PASSWORD = re.compile(r"://(?P<user>[^\s:/?#@\"'<>]*):(?P<password>[^\s/?#\"'<>]+)@")


def _url_password(match: re.Match[str]) -> str:
    if match["password"].startswith(_MARKER_PREFIX):
        return match.group(0)
    return _splice(match, "password", "url-password")


# `user:password@host` with no scheme, as in a DSN handed to a driver. The user starts after a
# character that cannot continue it, so the runs the regex scans never overlap. Not matched:
# `mailto:a@b.c` and its kin (a label, then an email address), `image:tag@sha256:…` (a digest),
# `Name:pkg.Class@1b6d3586` (Java's default toString), `[main:QuorumPeer@127]` (log4j's
# thread:class@line).
_BARE_CREDENTIAL = re.compile(
    r"""(?x) (?<![\w.+:/@%-])
    (?P<user>[A-Za-z_][\w.+-]{0,63}) : (?P<password>[^\s:/?#@"'<>\[\](){},;=]{1,128})
    @ (?! sha\d+: | [0-9a-f]{5,8}(?![\w.-]) | [0-9]+(?![\w.-]) ) (?=[A-Za-z0-9])
    """
)
_EMAIL_LABELS = frozenset(
    (
        *("mailto", "to", "from", "cc", "bcc", "reply-to", "sender", "recipient", "email", "e-mail"),
        *("mail", "contact", "author", "committer", "by", "user", "username", "login", "owner", "assignee"),
    )
)


def _bare_credential(match: re.Match[str]) -> str:
    if match["user"].lower() in _EMAIL_LABELS or match["password"].startswith(_MARKER_PREFIX):
        return match.group(0)
    return _splice(match, "password", "password")


# A base64 blob whose text holds a secret by our own rules (`cGFzc3dvcmQ9…`, a whole `.env`
# encoded) goes whole. A run starts where no base64 character precedes it, so runs never overlap;
# one of hexadecimal digits alone (trace ids, SHAs) is skipped before any decoding.
_BASE64_RUN = re.compile(r"(?<![\w+/=-])(?![0-9a-f]+(?![\w+/-]))[A-Za-z0-9+/_-]{16,}={0,2}")
_PRINTABLE = re.compile(r"[\t\n\r -~]*")


def _decoded(token: str) -> str | None:
    """`token` decoded as standard or URL-safe base64, if that gives printable ASCII text."""
    padded = token.rstrip("=")
    padded += "=" * (-len(padded) % 4)
    try:
        raw = base64.b64decode(padded, altchars=b"-_" if "-" in token or "_" in token else None)
    except ValueError:
        return None
    text = raw.decode("ascii", errors="replace")
    return text if _PRINTABLE.fullmatch(text) else None


def _encoded_secret(match: re.Match[str]) -> str:
    decoded = _decoded(match.group(0))
    if decoded is None or len(decoded) < 8 or redact(decoded) == decoded:
        return match.group(0)
    return _marker("encoded-secret")


def _may_hold_encoded_secret(text: str) -> bool:
    return any(map(text.__contains__, _ENCODED_WORDS))


def _encoded_cores(word: str) -> list[str]:
    """The parts of `word`'s base64 that stay the same at each of the three byte alignments."""
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + word.encode()).decode()
        cores.append(encoded[-(-offset * 8 // 6) : (offset + len(word)) * 8 // 6])
    return cores


# The secret words in the spellings of `.env` files and configs: `pass` covers password, passwd
# and passphrase, `key` api_key and the like, in the three letter cases people write them.
_ENCODED_WORDS = tuple(
    dict.fromkeys(
        core
        for stem in ("pass", "pwd", "secret", "token", "key")
        for word in (stem, stem.upper(), stem.capitalize())
        for core in _encoded_cores(word)
    )
)


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


# Basic credentials outside an Authorization header: `-H 'Basic dXNlcjpwYXNz'`, `using Basic …`.
# Only a token that decodes to `user:password` goes, so prose such as `Basic auth disabled` stays.
_BARE_BASIC = re.compile(r"(?i)\bbasic[ \t]+(?P<token>[A-Za-z0-9+/]{6,}={0,2})(?![\w+/=-])")


def _bare_basic(match: re.Match[str]) -> str:
    decoded = _decoded(match["token"])
    if decoded is not None and ":" in decoded:
        return _splice(match, "token", "basic-auth")
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
# `key`, `pass`, `pw` and `sig` also end ordinary names (`routing_key`, `tests_pass`), so a match
# on them stands only if the whole name qualifies (`_names_a_secret`).
_SECRET_WORD = r"""
    (?P<key> secret[_-]?access[_-]?key | api[_-]?key | secret[_-]?key(?:[_-]?base)? | private[_-]?key
           | passw(?:or)?d | passphrase | pass | pwd | pw | secret | token | signature | sig | key )
"""
_KEY_KINDS = (
    ("access", "aws-secret-key"),
    ("api", "api-key"),
    ("private", "private-key"),
    ("pass", "password"),
    ("pw", "password"),
    ("secret", "secret"),
    ("token", "token"),
    ("sig", "signature"),
    ("key", "key"),
)
# What comes before `key` in a name that holds one, separators removed: `AccountKey`,
# `SharedAccessKey` (Azure), `Ocp-Apim-Subscription-Key`, `x-functions-key`, `master_key`...
_SECRET_KEY_NAME = re.compile(
    r"""(?x) (?: account | sharedaccess | subscription | functions? | access | master | encryption
    | signing | client | app | application | auth | license | licence | admin | storage | consumer
    | webhook | service | hmac | sas ) key \Z"""
)
# Any other header-like name (`X-Something-Key: …`) holds a secret unless it names one of these.
_PLAIN_KEY_HEADER = re.compile(
    r"""(?x) (?: websocket | idempotency | routing | partition | sort | cache | primary | foreign
    | public | object | message | lock | dedup | deduplication | request | trace | correlation | s3
    | host | ssh | gpg | pgp | tls | sign ) -key \Z"""
)
_AMBIGUOUS_WORDS = frozenset(("key", "pass", "pw", "sig"))
_SEPARATORS = str.maketrans("", "", "_.-")


def _names_a_secret(match: re.Match[str]) -> bool:
    """Whether the whole name that ends in the matched secret word names a secret."""
    word = match["key"].lower()
    if word not in _AMBIGUOUS_WORDS:
        return True
    name = _whole_name(match).lower()
    if word != "key":
        # `DB_PASS`, `db.pw`, `x-sig`, or `pw`/`sig` alone, but not `pass=3` or `bypass`
        return name in ("pw", "sig") if name == word else name[-len(word) - 1] in "_.-"
    if _SECRET_KEY_NAME.search(name.translate(_SEPARATORS)):
        return True
    separator = match.string[match.end("key") : match.end("key") + 4]
    return "-" in name and ":" in separator and not _PLAIN_KEY_HEADER.search(name)


def _whole_name(match: re.Match[str]) -> str:
    """The name the secret word ends: the word and the name characters before it."""
    text, end = match.string, match.end("key")
    start = match.start("key")
    while start > max(0, end - 64) and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
        start -= 1
    if text[start - 1 : start] == "%":  # `%22sig`: the name starts after a URL-encoded quote
        start = min(start + 2, match.start("key"))
    return text[start:end]


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
    if _holds_no_secret(match, group) or not _names_a_secret(match):
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
        or "pass" in low
        or ("k" in low and ("token" in low or "key" in low))
        or ("w" in low and "pw" in low)
        or "sig" in low
    )
