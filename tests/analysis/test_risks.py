import pytest

from sitrep.analysis.risks import classify_path, conflict_marker_risks, path_risks
from sitrep.domain import FileChange


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("db/migrations/0007_add.sql", "migration"), ("alembic/versions/abc_add.py", "migration"),
        ("src/main/resources/db/migration/V12__add.sql", "migration"), ("schema.sql", "migration"),
        ("requirements.txt", "dependency"), ("requirements-dev.in", "dependency"), ("web/package-lock.json", "dependency"),
        ("go.sum", "dependency"), ("Cargo.lock", "dependency"), ("api/App.csproj", "dependency"),
        ("config/production.yaml", "config"), ("deploy/values.yaml", "config"), ("Dockerfile", "config"),
        ("infra/main.tf", "config"), (".env.production", "config"), (".github/workflows/ci.yml", "config"),
        ("app/cart.py", None), ("README.md", None), ("docs/migrating.md", None),
    ],
)  # fmt: skip
def test_classify_path(path: str, kind: str | None) -> None:
    assert classify_path(path) == kind


def test_path_risks_carry_the_path_and_what_happened() -> None:
    risks = path_risks([FileChange("db/migrations/1.sql", "A", 3, 0), FileChange("app.py", "M", 1, 1)])
    assert [(r.kind, r.severity, r.path) for r in risks] == [("migration", "high", "db/migrations/1.sql")]
    assert risks[0].detail == "added"


def test_conflict_markers_need_a_real_marker_not_an_underline() -> None:
    added = [
        ("config/a.yaml", "<<<<<<< HEAD"), ("config/a.yaml", "======="), ("config/a.yaml", ">>>>>>> feature"),
        ("docs/title.rst", "======="),
    ]  # fmt: skip
    risks = conflict_marker_risks(added)
    assert [(r.path, r.evidence) for r in risks] == [
        ("config/a.yaml", ("<<<<<<< HEAD", "=======", ">>>>>>> feature"))
    ]
