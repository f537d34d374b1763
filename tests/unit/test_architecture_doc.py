"""docs/architecture.md lists every module of the library and the trainer."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_module_is_in_the_architecture_table() -> None:
    text = (REPO / "docs" / "architecture.md").read_text()
    modules = [
        path.relative_to(REPO).as_posix()
        for base in (REPO / "tcan_live", REPO / "training" / "tcan_live_training")
        for path in sorted(base.rglob("*.py"))
    ]
    missing = [module for module in modules if f"| `{module}` |" not in text]
    assert not missing, f"add to docs/architecture.md: {missing}"
    listed = {line.split("`")[1] for line in text.splitlines() if line.startswith("| `")}
    gone = sorted(name for name in listed if name.endswith(".py") and name not in modules)
    assert not gone, f"no longer in the tree, remove from docs/architecture.md: {gone}"
