"""Constrained scalars of leaves and environments: each a Python check with a human message,
paired with the JSON Schema that says the same thing (so editors and check-jsonschema enforce it).

The pydantic models in models.py are built from these; `describe` words a YAML value the way
every shape message shows it.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainValidator,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError, core_schema

from catalog_gen.references import (
    MODEL_NAME_MAX_LENGTH,
    MODEL_NAME_PATTERN,
    InvalidReferenceError,
    parse_model_reference,
)

T = TypeVar("T")

# Each is a string (or number) checked by a Python function that gives a human message, paired
# with the equivalent JSON Schema so editors and check-jsonschema enforce the same thing.

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
HOSTNAME = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
WILDCARD_HOSTNAME = (
    r"^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
)
ALL_DIGITS_AND_DOTS = r"^[0-9.]+$"
BACKSTAGE_NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
BACKSTAGE_REF = (
    r"^([A-Za-z][-A-Za-z0-9]*:)?([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
# An image registry as container runtimes read one (distribution/reference v0.6.0: a first part
# with no dot or port, localhost aside, is a Docker Hub account, so `mirror` would pull
# docker.io/mirror/ollama/ollama; path components as its grammar has them; a port 1-65535).
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_DOMAIN_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?"
REGISTRY_HOST = (
    rf"^(localhost(:{_PORT})?|{_DOMAIN_LABEL}(\.{_DOMAIN_LABEL})+(:{_PORT})?"
    rf"|{_DOMAIN_LABEL}:{_PORT})(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*$"
)
# A model registry: a host and an optional port 1-65535 (Ollama's name grammar, a port it can dial).
MODEL_HOST = rf"^{_DOMAIN_LABEL}(\.{_DOMAIN_LABEL})*(:{_PORT})?$"
# An extended resource: a prefix is required (the API server calls a bare name a standard
# resource, and refuses one it does not know in a container), the name at most 63 characters.
# The chart's gpu.resourceName pattern is this one (a test holds them together).
RESOURCE_NAME = (
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
# An exponent of at most three digits: Kubernetes reads 1e999 at once, while 1e1000000000 kept its
# parser (and catalog-gen's Decimal) busy or out of range.
# A leading `+` as Kubernetes (and the chart's schema) reads one; no `-`: no resource is negative.
QUANTITY = r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]{1,3})?$"
DURATION = r"^-?([0-9]+|([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+)$"
# Whitespace spelled out: `\s` means more to Python's re than to ECMA 262 (editors, Backstage)
# or to Go (helm); a class written out reads the same to all of them.
_NO_SPACE = r"[^\t\n\v\f\r ]"
URL = rf"^(https?|ssh|git|oci)://{_NO_SPACE}+$|^git@{_NO_SPACE}+:{_NO_SPACE}+$"
HTTPS_URL = rf"^https://{_NO_SPACE}+$"
# A name git accepts for a branch, tag or other ref, or a commit (`git check-ref-format
# --allow-onelevel`'s rules; tests/unit/test_git_revision.py holds the two together): no control
# characters, space, ~ ^ : ? * [ or backslash; no '..', '@{' or '//'; no part starting with '.'
# or ending with '.lock'; not starting with '/', ending with '/' or '.', nor '@' alone), and not
# starting with '-', which git's commands read as an option (as `git branch` refuses it).
GIT_REVISION = (
    r"^(?!@$)(?![./-])(?!.*(?:\.\.|@\{|//|/\.|\.lock/|\.lock$|/$|\.$))"
    r"[^\x00-\x20\x7f~^:?*\[\\]+$"
)
HTTP_URL = rf"^https?://{_NO_SPACE}+$"
IPV4_CIDR = r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$"
STORAGE_CLASS = r"^(-|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$"
# The chart's model-name pattern (no named groups, so editors' ECMA regex accept it too).
MODEL_REFERENCE = MODEL_NAME_PATTERN


@dataclass(frozen=True)
class TextFormat:
    """Annotated[str, TextFormat(...)]: a pattern with a human message, and the same pattern
    (plus maxLength and json_extra) in the JSON schema."""

    pattern: str
    message: str
    max_length: int | None = None
    extra_check: Callable[[str], str | None] | None = None
    json_extra: Mapping[str, Any] | None = None

    def check(self, value: str) -> str:
        if self.max_length is not None and len(value) > self.max_length:
            raise PydanticCustomError(
                "text_too_long",
                f"must be at most {self.max_length} characters (got {len(value)})",
            )
        if self.extra_check is not None and (problem := self.extra_check(value)) is not None:
            raise PydanticCustomError("text_format", problem)
        if _compiled(self.pattern).fullmatch(value) is None:
            raise PydanticCustomError("text_format", self.message)
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        result: dict[str, Any] = {"type": "string", "pattern": self.pattern}
        if self.max_length is not None:
            result["maxLength"] = self.max_length
        result.update(self.json_extra or {})
        return result


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _cidr_problem(value: str) -> str | None:
    try:
        ipaddress.IPv4Network(value)
    except ValueError as error:
        return f"must be an IPv4 CIDR with no host bits set, e.g. 10.20.0.0/16 ({error})"
    return None


def _no_ip(value: str) -> str | None:
    if re.fullmatch(ALL_DIGITS_AND_DOTS, value):
        return "must be a DNS name, not an IP address"
    return None


def _no_wildcard(value: str) -> str | None:
    if "*" in value:
        return (
            "wildcard hosts are not allowed here: name the service's own host "
            "(wildcards belong in gateway.additionalHostnames)"
        )
    return _no_ip(value)


def _model_reference_problem(value: str) -> str | None:
    if re.fullmatch(MODEL_REFERENCE, value) is not None:
        return None
    try:
        parse_model_reference(value)
    except InvalidReferenceError as error:
        return str(error)
    return None  # pragma: no cover - the pattern and the parser agree


_DNS_LABEL_TEXT = (
    "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a "
    "letter or digit"
)
DnsLabel = Annotated[str, TextFormat(DNS_LABEL, _DNS_LABEL_TEXT, max_length=63)]
# The service name is the Helm release name (Argo CD's releaseName), which helm limits to 53.
HELM_RELEASE_NAME_MAX = 53
ServiceName = Annotated[
    str,
    TextFormat(
        DNS_1035_LABEL,
        "must be a DNS-1035 label (it names a Kubernetes Service and is the Helm release name, "
        "at most 53 characters): lowercase letters, digits and '-', starting with a letter and "
        "ending with a letter or digit",
        max_length=HELM_RELEASE_NAME_MAX,
    ),
]
DnsSubdomain = Annotated[
    str,
    TextFormat(
        DNS_SUBDOMAIN,
        "must be a DNS-1123 subdomain: dot-separated lowercase labels of letters, digits and '-'",
        max_length=253,
    ),
]
Host = Annotated[
    str,
    TextFormat(
        HOSTNAME,
        "must be a DNS name: dot-separated lowercase labels of letters, digits and '-' "
        "(at most 63 characters each), e.g. ollama.example.com",
        max_length=253,
        extra_check=_no_wildcard,
        json_extra={"not": {"pattern": ALL_DIGITS_AND_DOTS}},
    ),
]
HostOrWildcard = Annotated[
    str,
    TextFormat(
        WILDCARD_HOSTNAME,
        "must be a DNS name, optionally starting with '*.' (e.g. *.example.com): dot-separated "
        "lowercase labels of letters, digits and '-'",
        max_length=253,
        extra_check=_no_ip,
        json_extra={"not": {"pattern": ALL_DIGITS_AND_DOTS}},
    ),
]
BackstageName = Annotated[
    str,
    TextFormat(
        BACKSTAGE_NAME,
        "must be a Backstage entity name: letters, digits, '-', '_' and '.', starting and ending "
        "with a letter or digit",
        max_length=63,
    ),
]
EntityRef = Annotated[
    str,
    TextFormat(
        BACKSTAGE_REF,
        "must be a Backstage entity reference [kind:][namespace/]name, e.g. group:ml-platform",
        max_length=253,
    ),
]
RegistryHost = Annotated[
    str,
    TextFormat(
        REGISTRY_HOST,
        "must be a registry host (a name with a dot or a port, or localhost: container "
        "runtimes read a bare word as a Docker Hub account) with an optional port (1-65535) and "
        "path, e.g. registry.example.com:5000",
        max_length=253,
    ),
]
ModelHost = Annotated[
    str,
    TextFormat(
        MODEL_HOST,
        "must be a registry host with an optional port, e.g. registry.internal.example:5000",
        max_length=253,
    ),
]
ResourceName = Annotated[
    str,
    TextFormat(
        RESOURCE_NAME,
        "must be a Kubernetes extended resource name, e.g. nvidia.com/gpu or amd.com/gpu",
        max_length=253,
    ),
]
ModelName = Annotated[
    str,
    TextFormat(
        MODEL_REFERENCE,
        "not a valid Ollama model name",
        max_length=MODEL_NAME_MAX_LENGTH,
        extra_check=_model_reference_problem,
    ),
]
GitRevision = Annotated[
    str,
    TextFormat(
        GIT_REVISION,
        "must be a branch, tag or commit git can name: no spaces, control characters, "
        "~ ^ : ? * [ or \\, no '..', '@{' or '//', no part starting with '.' or ending with "
        "'.lock', not starting with '-' or ending with '/' or '.'",
        max_length=255,
    ),
]
Url = Annotated[
    str, TextFormat(URL, "must be a URL such as https://github.com/org/repo.git", max_length=2048)
]
# A Modelfile ADAPTER: Ollama's CLI reads it as a local file or directory. An absolute path inside
# the pod (the model cache, or a volume the chart mounts with extraVolumes); never a URL, a
# relative path (it would resolve in the read-only scripts folder), `~` or a `.`/`..` segment.
ADAPTER_PATH = r"^(/[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]*)+$"
AdapterPath = Annotated[
    str,
    TextFormat(
        ADAPTER_PATH,
        "must be an absolute path in the pod (the model cache or a volume from "
        "chartValues.extraVolumes), e.g. /models/adapters/support-lora.gguf: segments of letters, "
        "digits and . _ @ + - not starting with '.'; a URL is never fetched",
        max_length=1024,
    ),
]
HttpsUrl = Annotated[
    str,
    TextFormat(HTTPS_URL, "must be an https:// URL", max_length=253),
]
HttpUrl = Annotated[
    str,
    TextFormat(HTTP_URL, "must be an http:// or https:// URL", max_length=2048),
]
Ipv4Cidr = Annotated[
    str,
    TextFormat(
        IPV4_CIDR,
        "must be an IPv4 CIDR such as 10.20.0.0/16",
        max_length=18,
        extra_check=_cidr_problem,
    ),
]


def whole_number(value: object) -> object:
    """A number with no fraction (1.0) as the integer it is: JSON Schema's `integer`, which the
    published leaf schema says and editors check, takes it, and strict validation would not."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


WHOLE_NUMBER = BeforeValidator(whole_number)  # in every integer field: 1 or 1.0
Port = Annotated[int, Field(ge=1, le=65535), WHOLE_NUMBER]
StorageClassName = Annotated[
    str,
    TextFormat(
        STORAGE_CLASS,
        "must be a StorageClass name, '' for the cluster default or '-' for none",
        max_length=253,
    ),
]
PresetName = Annotated[
    str, TextFormat(DNS_LABEL, f"must be 'auto' or a preset name; {_DNS_LABEL_TEXT}", max_length=63)
]
Description = Annotated[str, Field(max_length=2000)]


def _scalar_or_text(
    kind: str, pattern: str, message: str, *, allow_float: bool, allow_negative: bool = False
) -> Callable[[object], str | int | float]:
    regex = re.compile(pattern)

    def check(value: object) -> str | int | float:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise PydanticCustomError(kind, f"{message} (got {describe(value)})")
        if isinstance(value, float) and (not allow_float or not math.isfinite(value)):
            raise PydanticCustomError(kind, f"{message} (got {describe(value)})")
        if isinstance(value, int | float) and value < 0 and not allow_negative:
            raise PydanticCustomError(kind, f"{message}; it may not be negative (got {value})")
        if isinstance(value, str) and regex.fullmatch(value) is None:
            raise PydanticCustomError(kind, f"{message} (got {value!r})")
        return value

    return check


Quantity = Annotated[
    str | int | float,
    PlainValidator(
        _scalar_or_text(
            "quantity",
            QUANTITY,
            "must be a Kubernetes quantity such as 500m, 2, 1.5, 512Mi or 4Gi",
            allow_float=True,
        )
    ),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": QUANTITY},
                {"type": "number", "minimum": 0},
            ],
            "description": "Kubernetes quantity, e.g. 500m, 2, 512Mi, 4Gi",
        }
    ),
]
# Go's time.Duration is int64 nanoseconds. Ollama reads OLLAMA_KEEP_ALIVE with ParseDuration,
# then as seconds; a longer value fails both and Ollama silently unloads after 5m, which
# breaks the readiness that needs every model loaded.
GO_DURATION_MAX_NANOSECONDS = 2**63 - 1
DURATION_MAX_SECONDS = GO_DURATION_MAX_NANOSECONDS // 10**9
_DURATION_UNIT_NANOSECONDS = {
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")


KEEP_ALIVE_DEFAULT = "unload models after 5m; use -1 to keep models loaded"


def duration_range_problem(value: str | int, instead: str = KEEP_ALIVE_DEFAULT) -> str | None:
    """Why a duration Go cannot hold is refused; None when it fits. instead: what Ollama does
    then (envconfig falls back to its default when time.ParseDuration fails). The JSON schema
    bounds the integer form; the text form is checked by rules.py (no JSON Schema keyword can
    sum units)."""
    text = str(value).lstrip("-")
    if text.isdigit():  # seconds: envconfig's strconv.ParseInt, then times time.Second
        seconds = int(text)
        if seconds * 10**9 <= GO_DURATION_MAX_NANOSECONDS:
            return None
        if seconds <= GO_DURATION_MAX_NANOSECONDS:  # ParseInt reads it; the product overflows
            # silently: 18446744074 seconds wrap around to 290ms.
            return (
                f"{value!r} is more seconds than Go's duration holds (at most "
                f"{GO_DURATION_MAX_NANOSECONDS // 10**9}): Ollama's seconds-to-duration product "
                "wraps around to an arbitrary duration; use -1 to keep models loaded"
            )
    else:
        nanoseconds = sum(
            int(Decimal(number) * _DURATION_UNIT_NANOSECONDS[unit])
            for number, unit in _DURATION_PART.findall(text)
        )
        if nanoseconds <= GO_DURATION_MAX_NANOSECONDS:
            return None
    return (
        f"{value!r} is longer than Go's longest duration (about 292 years): Ollama would "
        f"ignore it and {instead}"
    )


def _integer_duration_in_range(value: str | int) -> str | int:
    problem = duration_range_problem(value) if isinstance(value, int) else None
    if problem is not None:
        raise PydanticCustomError("duration_range", problem)
    return value


Duration = Annotated[
    str | int,
    PlainValidator(
        _scalar_or_text(
            "duration",
            DURATION,
            "must be a duration such as 5m, 24h or -1 (negative keeps models loaded forever)",
            allow_float=False,
            allow_negative=True,
        )
    ),
    AfterValidator(_integer_duration_in_range),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION},
                {
                    "type": "integer",
                    "minimum": -DURATION_MAX_SECONDS,
                    "maximum": DURATION_MAX_SECONDS,
                },
            ],
            "description": "Go duration (5m, 24h, -1m) or seconds; negative keeps models loaded",
        }
    ),
]


def _parameter_value(value: object) -> object:
    def scalar(item: object) -> bool:
        return isinstance(item, str | int | bool) or (
            isinstance(item, float) and math.isfinite(item)
        )

    if scalar(value) or (
        isinstance(value, list)
        and value
        and all(scalar(item) and not isinstance(item, bool) for item in value)
    ):
        return value
    if isinstance(value, list) and value:  # the list is allowed: say which item is not
        index, item = next(
            (index, item)
            for index, item in enumerate(value)
            if not scalar(item) or isinstance(item, bool)
        )
        raise PydanticCustomError(
            "parameter_value",
            f"item {index} must be a string or a finite number (got {describe(item)})",
        )
    raise PydanticCustomError(
        "parameter_value",
        "must be a string, number or boolean, or a non-empty list of strings/numbers "
        f"(got {'an empty list' if value == [] else describe(value)})",
    )


_PARAMETER_SCALAR: dict[str, Any] = {"type": ["string", "number", "boolean"]}
ParameterValue = Annotated[
    object,
    PlainValidator(_parameter_value),
    WithJsonSchema(
        {
            "anyOf": [
                _PARAMETER_SCALAR,
                {"type": "array", "minItems": 1, "items": {"type": ["string", "number"]}},
            ]
        }
    ),
]
# Kubernetes carries replicas and counts as int32; a larger number passes YAML and the chart's
# schema but fails at the API server, after Argo CD has synced.
INT32_MAX = 2**31 - 1
NonNegativeInt = Annotated[int, Field(ge=0, le=INT32_MAX), WHOLE_NUMBER]


def unique_items(items: list[T]) -> list[T]:
    for index, item in enumerate(items):
        if item in items[:index]:
            raise PydanticCustomError("unique_items", f"lists {item!r} twice")
    return items


PositiveInt = Annotated[int, Field(ge=1, le=INT32_MAX), WHOLE_NUMBER]

CacheMode = Literal["emptyDir", "sharedPVC", "perReplica"]
AccessMode = Literal["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod"]
Routing = Literal["gateway", "ingress"]


def describe(value: object) -> str:
    """How a YAML value reads in a message: its YAML kind and, for scalars, the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"string {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__  # pragma: no cover
