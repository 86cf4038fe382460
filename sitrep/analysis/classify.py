"""Label an error pattern `transient` or `persistent` by its text, with the signal that decided.

Mid-incident, the two mistakes do not cost the same: a wrong "transient" costs a retry, a wrong
"persistent" stops a human. So when the text is unsure, it leans transient.

Signals come in two strengths. Decisive ones name the error: an exception or error type
(`SocketTimeoutException`, `KeyError`), an errno or gRPC code (`ECONNRESET`, `NOT_FOUND`), an
HTTP status given as a status (`status 503`). Suggestive ones are phrases (`timed out`,
`does not exist`). A pattern is persistent only when a persistent signal is decisive and no
transient one is, or when persistent signals alone are found; any other transient signal makes
it transient. With no signal at all the text says `unknown`, and the caller decides from what
else it knows (`error_summary.label`: the timing, then the lean to transient).

Words are looked for in the template, the constant text of the pattern, so that a value of
one message (a path `/v1/timeout-settings`, a user called `invalid`) cannot decide for all.
HTTP statuses are masked in templates, so they are read from the example, and only where the
template keeps the word that makes them a status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

__all__ = ["Classification", "Label", "classify"]

Label = Literal["transient", "persistent", "unknown"]


@dataclass(frozen=True, slots=True)
class Classification:
    label: Label
    signal: str | None
    """The text that decided the label, or None for `unknown`."""


_DECISIVE = 0
_SUGGESTIVE = 1

# A name must stand alone: `fooTimeoutException` is another name, `/timeout-settings` a path.
_ALONE_BEFORE = r"(?<![\w/-])"
_ALONE_AFTER = r"(?![\w/-])"

_TRANSIENT_NAMES = re.compile(
    _ALONE_BEFORE
    + r"""(?:TypeError:[ ]fetch[ ]failed | (?:[\w$]+\.)*(?:
        SocketTimeoutException | ConnectTimeoutException | TimeoutException | ConnectException
      | NoRouteToHostException | UnknownHostException | ClosedChannelException
      | ServiceUnavailableException | ThrottlingException | RequestTimeoutException
      | TooManyRequestsException | TimeoutError | ConnectionResetError | ConnectionRefusedError
      | ConnectionAbortedError | BrokenPipeError | ReadTimeout(?:Error)? | ConnectTimeout(?:Error)?
      | ECONNRESET | ECONNREFUSED | ECONNABORTED | ETIMEDOUT | ESOCKETTIMEDOUT | EPIPE | ENOTFOUND
      | EAI_AGAIN | EHOSTUNREACH | ENETUNREACH | ENETDOWN | EHOSTDOWN
      | UND_ERR_CONNECT_TIMEOUT | UND_ERR_SOCKET | DEADLINE_EXCEEDED | UNAVAILABLE | RESOURCE_EXHAUSTED
      | ResourceAccessException | RetryableException | CallNotPermittedException
      | SocketException | EOFException | EndOfStreamException | InterruptedException
    ))"""
    + _ALONE_AFTER,
    re.VERBOSE,
)

_PERSISTENT_NAMES = re.compile(
    _ALONE_BEFORE
    + r"""(?:[\w$]+\.)*(?:
        NullPointerException | IllegalArgumentException | ClassCastException
      | NumberFormatException | (?:Array|String)?IndexOutOfBoundsException | NoSuchElementException
      | UnsupportedOperationException | ArithmeticException | ClassNotFoundException
      | NoClassDefFoundError | NoSuchMethodError | NoSuchFieldError | StackOverflowError
      | ConstraintViolationException | DataIntegrityViolationException | DuplicateKeyException
      | EntityNotFoundException | JsonParseException | JsonMappingException | MismatchedInputException
      | ValidationException | ValidationError | AssertionError | AssertionFailedError
      | KeyError | TypeError | ValueError | AttributeError | IndexError | NameError | ZeroDivisionError
      | ImportError | ModuleNotFoundError | NotImplementedError | RecursionError | UnboundLocalError
      | FileNotFoundError | FileNotFoundException | PermissionError | SyntaxError | ReferenceError
      | IntegrityError | UniqueViolation | ForeignKeyViolation | NotNullViolation
      | ENOENT | EACCES | EPERM | EINVAL | EEXIST | EISDIR | ENOTDIR
      | INVALID_ARGUMENT | NOT_FOUND | PERMISSION_DENIED | FAILED_PRECONDITION | UNIMPLEMENTED
      | ALREADY_EXISTS | UNAUTHENTICATED | OUT_OF_RANGE
    )"""
    + _ALONE_AFTER,
    re.VERBOSE,
)

_TRANSIENT_PHRASES = re.compile(
    _ALONE_BEFORE
    + r"""(?:
        timed[ ]out | time[ -]?outs? (?![=\w/-])
      | connection[ ](?:was[ ]|is[ ])?(?:reset|refused|closed|aborted|lost|dropped|broken|timed[ ]out)
      | reset[ ]by[ ]peer | socket[ ]hang[ ]?up | fetch[ ]failed | broken[ ]pipe
      | service[ ](?:temporarily[ ])?unavailable | temporarily[ ]unavailable | too[ ]many[ ]requests
      | rate[ -]?limit(?:ed|ing|[ ]exceeded)? | throttl(?:ed|ing)
      | name[ ]or[ ]service[ ]not[ ]known | temporary[ ]failure[ ]in[ ]name[ ]resolution
      | could[ ]not[ ]resolve[ ]host(?:name)? | no[ ]such[ ]host | host[ ]not[ ]found | no[ ]route[ ]to[ ]host
      | end[ ]of[ ]stream | interrupted[ ]while
      | internal[ ]server[ ]error  # a 500: a bug as often as a blip, so it leans transient
      | (?:network|host)[ ](?:is[ ])?unreachable | bad[ ]gateway | gateway[ ]time-?out
      | upstream[ ](?:connect[ ]error|request[ ]timeout|timed[ ]out) | no[ ]healthy[ ]upstream
      | try[ ]again[ ]later | deadline[ ]exceeded | connection[ ]pool[ ](?:exhausted|timeout)
      | circuit[ ]breaker[ ](?:is[ ])?open | server[ ](?:is[ ])?overloaded
      | no[ ](?:healthy[ ]|available[ ])?(?:instances|hosts|servers)(?:[ ]available)?
    )"""
    + r"(?![\w-])",
    re.VERBOSE | re.IGNORECASE,
)

_PERSISTENT_PHRASES = re.compile(
    _ALONE_BEFORE
    + r"""(?:
        null[ ]?pointer | nil[ ]pointer(?:[ ]dereference)? | null[ ]reference
      | object[ ]reference[ ]not[ ]set | assertion[ ](?:failed|error) | validation[ ](?:failed|error)
      | failed[ ]validation | does[ ]not[ ]exist | doesn't[ ]exist
      | no[ ]such[ ](?:file|directory|table|column|key|user|bucket|object|index|method|attribute)
      | permission[ ]denied | access[ ]denied | forbidden | unauthori[sz]ed | not[ ]permitted
      | invalid | malformed | unsupported | not[ ]implemented | bad[ ]request | unprocessable
      | (?:cannot|can't|could[ ]not|failed[ ]to|unable[ ]to)[ ](?:parse|deserialize|decode|unmarshal)
      | parse[ ]error | syntax[ ]error | type[ ]mismatch | illegal[ ]argument
      | duplicate[ ]key | already[ ]exists | constraint[ ]violation
      | (?:unique|foreign[ ]key|not-null|check)[ ]constraint
      | cannot[ ]read[ ]propert(?:y|ies)[ ]of[ ](?:undefined|null) | is[ ]not[ ]a[ ]function
      | is[ ]not[ ]defined | undefined[ ]method | division[ ]by[ ]zero | divide[ ]by[ ]zero
      | out[ ]of[ ](?:range|bounds) | missing[ ]required | (?:cannot|must[ ]not)[ ]be[ ]null
      | method[ ]not[ ]allowed | not[ ]allowed | not[ ]found
      | IllegalStateException  # a generic wrapper: `No instances available` is transient
    )"""
    + r"(?![\w-])",
    re.VERBOSE | re.IGNORECASE,
)

# A three-digit number is an HTTP status only after a word that says so; a bare 429 may be
# part of an id and 504ms is a duration.
_STATUS = re.compile(
    r"(?<![\w/.-])(status(?:[ _-]?code)?|code|http(?:/[0-9.]+)?|response|returned|responded)"
    r"""["']?[ \t]*[:=#(]?[ \t]*["']?([1-5][0-9]{2})(?![\w.])""",
    re.IGNORECASE,
)
# Or when followed by its reason phrase (`404 Not Found`), the phrase kept in the template.
_STATUS_AND_REASON = re.compile(
    r"(?<![\w.])([1-5][0-9]{2})[ ]+(Bad Request|Unauthorized|Forbidden|Not Found|Method Not Allowed"
    r"|Request Timeout|Conflict|Gone|Unprocessable Entity|Too Many Requests|Internal Server Error"
    r"|Bad Gateway|Service Unavailable|Gateway Time-?out)(?![\w-])",
    re.IGNORECASE,
)
_LEADING_LETTERS = re.compile(r"[a-z]+")
_TRANSIENT_STATUSES = frozenset({408, 429, 502, 503, 504, 520, 521, 522, 523, 524})
_PERSISTENT_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 410, 411, 412, 413, 414, 415, 422})


class _Signal(NamedTuple):
    """Ordered so that `min` picks the best: the strongest, then the longest, then the first."""

    strength: int
    minus_length: int
    in_example: bool
    start: int
    text: str

    def within(self, other: _Signal) -> bool:
        """Whether this is part of a longer signal found in the same text."""
        return (
            self.in_example == other.in_example
            and other.start <= self.start
            and self.start - self.minus_length <= other.start - other.minus_length
            and other.minus_length < self.minus_length
        )


def classify(template: str, example: str | None = None) -> Classification:
    """Label a template; `example` (one raw message) shows values the template masked."""
    transient = _words(template, _TRANSIENT_NAMES, _TRANSIENT_PHRASES)
    persistent = _words(template, _PERSISTENT_NAMES, _PERSISTENT_PHRASES)
    for status, signal in _statuses(template, example):
        if status in _TRANSIENT_STATUSES:
            transient.append(signal)
        elif status in _PERSISTENT_STATUSES:
            persistent.append(signal)
    # A signal inside a longer one of the other kind is part of it: Node's network failure
    # `TypeError: fetch failed` is no type error.
    return _decide(_outside(transient, persistent), _outside(persistent, transient))


def _words(text: str, names: re.Pattern[str], phrases: re.Pattern[str]) -> list[_Signal]:
    found = [_signal(_DECISIVE, m, False) for m in names.finditer(text)]
    return found + [_signal(_SUGGESTIVE, m, False) for m in phrases.finditer(text)]


def _signal(strength: int, match: re.Match[str], in_example: bool) -> _Signal:
    return _Signal(strength, match.start() - match.end(), in_example, match.start(), match.group(0))


def _statuses(template: str, example: str | None) -> list[tuple[int, _Signal]]:
    found = []
    constant = template.lower()
    for source, in_example in ((template, False), (example or "", True)):
        for m in _STATUS.finditer(source):
            keyword = _LEADING_LETTERS.match(m.group(1).lower())
            if keyword and keyword.group(0) in constant:
                found.append((int(m.group(2)), _signal(_DECISIVE, m, in_example)))
        for m in _STATUS_AND_REASON.finditer(source):
            if m.group(2).lower() in constant:
                found.append((int(m.group(1)), _signal(_DECISIVE, m, in_example)))
    return found


def _outside(ours: list[_Signal], theirs: list[_Signal]) -> list[_Signal]:
    return [signal for signal in ours if not any(signal.within(other) for other in theirs)]


def _decide(transient: list[_Signal], persistent: list[_Signal]) -> Classification:
    if persistent and (not transient or min(persistent).strength == _DECISIVE < min(transient).strength):
        return Classification("persistent", min(persistent).text)
    if transient:
        return Classification("transient", min(transient).text)
    return Classification("unknown", None)
