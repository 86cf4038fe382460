"""Secrets planted on purpose, built at run time from the seed so the repository holds none."""

from __future__ import annotations

import base64
import dataclasses
import json
import random
import string
from dataclasses import dataclass

# --- secrets ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Secrets:
    aws_key_id: str
    db_password: str
    redis_password: str
    promotions_password: str
    github_token: str
    jwt: str

    @classmethod
    def generate(cls, rng: random.Random) -> Secrets:
        alnum = string.ascii_letters + string.digits
        return cls(
            aws_key_id="AKIA" + random_token(rng, string.ascii_uppercase + string.digits, 16),
            db_password=random_token(rng, alnum, 20),
            redis_password=random_token(rng, alnum, 24),
            promotions_password=random_token(rng, alnum, 20),
            github_token="ghp_" + random_token(rng, alnum, 36),
            jwt=_jwt(rng),
        )

    def all(self) -> tuple[str, ...]:
        return dataclasses.astuple(self)


def random_token(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _jwt(rng: random.Random) -> str:
    def part(obj: dict[str, object]) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    claims = {"sub": f"cust_{rng.randrange(10**6, 10**7)}", "scope": "checkout", "exp": 1900000000}
    signature = random_token(rng, string.ascii_letters + string.digits + "-_", 43)
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{signature}"
