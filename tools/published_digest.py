"""Digest of everything the pipeline publishes, to show a refactoring changed no byte.

    python tools/published_digest.py OUT.json          # run the cases, write the digest
    python tools/published_digest.py OUT.json --compare BEFORE.json

Each case runs the command line (`python -m pipeline`, as a user would) in a fresh temporary
folder: the fictitious example förbund for 2025, for Jan–Apr 2025 and then 2025 again (so
the release history is used), and every raw fixture under tests/fixtures (statistik, ingest,
ingest with the faulty files of felaktiga, k = 3 and 5). The digest is the SHA-256 of every
file under reports/, of the store's CSV and Markdown files and exact tables under processed/,
and of the raw folder (the generated example), plus each run's exit code. Two things would
differ between runs for reasons that are not the code's output, and are fixed: the creation
time (SOURCE_DATE_EPOCH) and the code version (git is hidden from the run, so the version is
the package's own).

To compare with an earlier commit: `git worktree add /tmp/fore <commit>`, copy this file to
/tmp/fore/tools/, run it there (it runs the code of the tree it lies in), then here with
--compare.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
ENV = {
    **os.environ,
    "SOURCE_DATE_EPOCH": "1767225600",  # 2026-01-01T00:00:00Z
    "GIT_DIR": "/nonexistent",  # code_version() falls back to the package version
    "MPLBACKEND": "Agg",
}


def _run(args: list[str]) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode


def _digest_tree(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix != ".lock" and ".cache" not in path.parts
    }


def _case(
    name: str, raw_setup, runs: list[list[str]], generated: bool = False
) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        raw, processed, reports = base / "raw", base / "processed", base / "reports"
        raw.mkdir()
        raw_setup(raw)
        folders = ["--raw", str(raw), "--processed", str(processed), "--reports", str(reports)]
        codes = [_run(["report", *folders, *period]) for period in runs]
        files = _digest_tree(reports) if reports.exists() else {}
        # The store's readable files and the exact tables of each period (the parquet and
        # DuckDB files carry writer metadata; their content is in these).
        exact = {
            f"processed/{k}": v
            for k, v in (_digest_tree(processed) if processed.exists() else {}).items()
            if k.endswith((".csv", ".md"))
        }
        # The raw folder only where the pipeline wrote it (the example); fixtures are inputs.
        inputs = {f"raw/{k}": v for k, v in _digest_tree(raw).items()} if generated else {}
        print(f"{name}: exit {codes}, {len(files)} published files", file=sys.stderr)
        return {"exit": codes, "files": {**files, **exact, **inputs}}


def _copy(*sources: Path):
    def setup(raw: Path) -> None:
        for source in sources:
            if source.is_dir():
                for path in source.iterdir():
                    if path.is_file() and path.suffix in {".csv", ".xlsx", ".toml", ".xls"}:
                        shutil.copy(path, raw)
            else:
                shutil.copy(source, raw)

    return setup


def _example(raw: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pipeline", "example", "--raw", str(raw)],
        cwd=ROOT,
        env=ENV,
        check=True,
        capture_output=True,
    )


def cases() -> dict[str, dict[str, object]]:
    year, tertial = ["--year", "2025"], ["--from", "2025-01-01", "--to", "2025-04-30"]
    return {
        "exempel": _case("exempel", _example, [tertial, year], generated=True),
        "statistik_k3": _case(
            "statistik_k3", _copy(FIXTURES / "statistik"), [["--year", "2024", "--k", "3"]]
        ),
        "statistik": _case("statistik", _copy(FIXTURES / "statistik"), [["--year", "2024"]]),
        "ingest": _case("ingest", _copy(FIXTURES / "ingest"), [["--year", "2025", "--k", "3"]]),
        "felaktiga": _case(
            "felaktiga",
            _copy(FIXTURES / "ingest", FIXTURES / "felaktiga"),
            [["--year", "2025", "--k", "3"]],
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--compare", type=Path, help="an earlier digest to compare with")
    args = parser.parse_args()
    digest = cases()
    args.out.write_text(json.dumps(digest, indent=1, ensure_ascii=False) + "\n", "utf-8")
    if not args.compare:
        return 0
    before = json.loads(args.compare.read_text("utf-8"))
    differences = [
        f"{case}: {path}"
        for case in sorted(set(before) | set(digest))
        for path in sorted(
            set(before.get(case, {}).get("files", {})) | set(digest.get(case, {}).get("files", {}))
        )
        if before.get(case, {}).get("files", {}).get(path)
        != digest.get(case, {}).get("files", {}).get(path)
    ] + [
        f"{case}: exit codes {before[case]['exit']} → {digest[case]['exit']}"
        for case in sorted(set(before) & set(digest))
        if before[case]["exit"] != digest[case]["exit"]
    ]
    n = sum(len(c["files"]) for c in digest.values())
    if differences:
        print("Skillnader:\n" + "\n".join(differences))
        return 1
    print(f"Inga skillnader: {n} filer i {len(digest)} körningar, byte för byte lika.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
