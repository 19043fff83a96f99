"""`make bench`: time the pipeline stage by stage at 10 thousand to 10 million episodes.

    .venv/bin/python -m benchmarks.run                     # every size (about 15–20 minutes)
    BENCH_SIZES=10000,100000 .venv/bin/python -m benchmarks.run
    .venv/bin/python -m benchmarks.run --sizes 10000 --output /tmp/results.md

For each size the synthetic inputs (benchmarks.inputs, cached in benchmarks/work/) are read by
every stage in a fresh process (benchmarks.stages): the plain polars read (the floor), the
pipeline's read, validate, and the whole report (store, compute and publish from its stage
log), then the pandas reference, whose tables must equal the pipeline's exact tables. The
example förbund's report is timed last. Results, targets (MET / MISSED) and machine info are
printed and written to benchmarks/results.md, followed by benchmarks/findings.md (profiles
and proposals, maintained by hand).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import polars as pl

from benchmarks.duckdb_reference import compare_with_pipeline
from benchmarks.inputs import DEFAULT_SEED, END_YEAR, N_INSATSER
from benchmarks.pandas_reference import TABLES as REFERENCE_TABLES
from benchmarks.pandas_reference import compare_tables
from benchmarks.stages import LOG_STAGES, RESULT_PREFIX
from pipeline.core import atomic

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
TODAY = dt.date(END_YEAR + 1, 1, 31)  # the run date of the validation (no future dates)

# Targets of issue 14 (national scale).
DATA_PATH_MAX_RATIO = 2.0  # data path ≤ 2 × the plain read, at 1 M and 10 M
DATA_PATH_SIZES = (1_000_000, 10_000_000)
PEAK_MAX_MB = 2 * 1024  # peak memory at 10 M
PUBLISH_SIZE = 1_000_000  # publishing every förbund's report ≤ the data path's time, here
EXAMPLE_MAX_S = 2.5  # make report on the example förbund

LAST_RUN_FILE = "senaste.json"  # the latest run's measurements, for --render-only
PACKAGES = ("polars", "pandas", "pyarrow", "pandera", "duckdb", "matplotlib", "numpy")


class StageFailed(RuntimeError):
    pass


@dataclass
class Measure:
    """One stage at one size."""

    seconds: float
    rows: int | None
    peak_mb: float | None

    @property
    def rows_per_s(self) -> float | None:
        return self.rows / self.seconds if self.rows and self.seconds > 0 else None


@dataclass
class SizeResult:
    size: int
    inputs: dict[str, object]
    stages: dict[str, Measure] = field(default_factory=dict)
    raw: dict[str, dict[str, object]] = field(default_factory=dict)
    equality: list[str] | None = None  # None: not compared (a stage failed)
    duckdb_equality: list[str] | None = None
    load: list[float] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # stage -> why it failed


# --- Running one stage in a fresh process ---------------------------------------------------


def run_stage(stage: str, **options: object) -> dict[str, object]:
    """Run `python -m benchmarks.stages STAGE` and return its result (+ wall_s, loadavg)."""
    cmd = [sys.executable, "-m", "benchmarks.stages", stage]
    for key, value in options.items():
        cmd += [f"--{key}", str(value)]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("PANDERA_VALIDATION_ENABLED", None)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-25:])
        raise StageFailed(f"Steget {stage} misslyckades (kod {proc.returncode}):\n{tail}")
    result = json.loads(lines[-1][len(RESULT_PREFIX) :])
    result["wall_s"] = wall
    result["loadavg"] = [load_before, os.getloadavg()[0]]
    return result


def _stage_measures(report: dict[str, object], rows: int) -> dict[str, Measure]:
    """store / compute / publish from the report's stage log lines."""
    grouped: dict[str, list[dict[str, object]]] = {}
    for entry in report["stages"]:
        grouped.setdefault(LOG_STAGES.get(entry["name"], entry["name"]), []).append(entry)
    return {
        name: Measure(
            sum(float(e["since_previous_s"]) for e in entries),
            rows,
            max(float(e["peak_mb"]) for e in entries),
        )
        for name, entries in grouped.items()
    }


# The nightly stage runs on the store the report stage left behind.
MEASURED_STAGES = ("floor", "read", "validate", "report", "nightly", "pandas", "duckdb")


def measure_size(size: int, seed: int, work: Path, say) -> dict[str, object]:
    """Every stage at one size; the raw stage outputs and the pandas cross-check (JSON-able)."""
    gen = run_stage("generate", size=size, seed=seed, work=work)
    raw = Path(gen["folder"]) / "raw"
    scratch = work / "runs" / f"n{size}"
    say(f"  indata: {gen['files']} filer, {gen['bytes'] / 1e6:.0f} MB")
    outputs: dict[str, dict[str, object]] = {}
    failed: dict[str, str] = {}
    for stage in MEASURED_STAGES:
        try:
            out = run_stage(stage, raw=raw, scratch=scratch, today=TODAY.isoformat(), year=END_YEAR)
            if stage == "floor":  # the yardstick of every ratio: the better of two runs
                again = run_stage(stage, raw=raw)
                out = min(out, again, key=lambda o: float(o["seconds"]))
        except StageFailed as exc:  # e.g. pandas out of memory: the other stages still count
            failed[stage] = str(exc).splitlines()[-1][:300]
            say(f"  {stage:9s} MISSLYCKADES: {failed[stage]}")
            continue
        outputs[stage] = out
        say(f"  {stage:9s} {out['seconds']:8.2f} s   topp {out.get('peak_mb', 0):7.0f} MB")
    equality = None
    if "report" in outputs and "pandas" in outputs:
        exact = Path(outputs["report"]["exact_dir"])
        reference = Path(outputs["pandas"]["tables_dir"])
        equality = compare_tables(
            {n: pl.read_parquet(exact / f"{n}.parquet") for n in REFERENCE_TABLES},
            {n: pl.read_parquet(reference / f"{n}.parquet") for n in REFERENCE_TABLES},
        )
        say("  pandas = pipeline: " + ("JA" if not equality else "; ".join(equality)))
    duckdb_equality = None
    if "report" in outputs and "duckdb" in outputs:
        exact = Path(outputs["report"]["exact_dir"])
        sql = Path(outputs["duckdb"]["tables_dir"])
        duckdb_equality = compare_with_pipeline(
            {n: pl.read_parquet(sql / f"{n}.parquet") for n in ("deltagare", "utfall")},
            {n: pl.read_parquet(exact / f"{n}.parquet") for n in ("deltagare", "utfall")},
        )
        say("  duckdb = pipeline: " + ("JA" if not duckdb_equality else "; ".join(duckdb_equality)))
    return {
        "duckdb_equality": duckdb_equality,
        "size": size,
        "inputs": gen,
        "outputs": outputs,
        "failed": failed,
        "equality": equality,
    }


def size_result(measured: dict[str, object]) -> SizeResult:
    """The measures of one size from its raw stage outputs."""
    size = int(measured["size"])
    # Rows per second are rows of the input files per second, for every stage alike.
    rows = int(measured["inputs"].get("rows", size))
    result = SizeResult(
        size,
        measured["inputs"],
        equality=measured["equality"],
        duckdb_equality=measured.get("duckdb_equality"),
        failed=measured.get("failed", {}),
    )
    for stage, out in measured["outputs"].items():
        result.raw[stage] = out
        result.load += out["loadavg"]
        result.stages[stage] = Measure(float(out["seconds"]), rows, out.get("peak_mb"))
        if stage == "report":
            result.stages |= _stage_measures(out, rows)
    store, compute = result.stages.get("store"), result.stages.get("compute")
    if store and compute:
        result.stages["data_path"] = Measure(
            store.seconds + compute.seconds, rows, max(store.peak_mb or 0, compute.peak_mb or 0)
        )
    return result


def measure_example(work: Path) -> dict[str, object]:
    out = run_stage("example", scratch=work / "example", today=TODAY.isoformat(), year=END_YEAR)
    # `make report` costs the interpreter start, the imports and run_report; not the copy.
    out["make_report_s"] = out["wall_s"] - float(out["setup_s"])
    return out


# --- Targets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    status: str  # MET, MISSED or NOT RUN
    detail: str


def _data_path_target(results: dict[int, SizeResult]) -> Target:
    name = (
        f"Datavägen (läs, validera, lager, exakta tabeller) ≤ {DATA_PATH_MAX_RATIO:g} × den "
        "rena inläsningen, 1 M och 10 M"
    )
    ratios = {
        n: (r.stages["data_path"].seconds, r.stages["floor"].seconds)
        for n in DATA_PATH_SIZES
        if (r := results.get(n)) and "data_path" in r.stages and "floor" in r.stages
    }
    if not ratios:
        return Target(name, "NOT RUN", "1 M och 10 M kördes inte")
    worst = max(d / f for d, f in ratios.values())
    status = "MET" if worst <= DATA_PATH_MAX_RATIO and len(ratios) == 2 else "MISSED"
    if worst <= DATA_PATH_MAX_RATIO and len(ratios) < 2:
        status = "NOT RUN"
    detail = ", ".join(
        f"{_size(n)}: {d:.1f} s mot {f:.1f} s = {d / f:.2f} ×" for n, (d, f) in ratios.items()
    )
    return Target(name, status, detail)


def _peak_target(big: SizeResult | None) -> Target:
    name = f"Toppminne < {PEAK_MAX_MB / 1024:g} GB, 10 M"
    if not big:
        return Target(name, "NOT RUN", "10 M kördes inte")
    pipeline_stages = ("read", "validate", "store", "compute", "publish")
    peaks = {s: big.stages[s].peak_mb or 0.0 for s in pipeline_stages if s in big.stages}
    worst_stage = max(peaks, key=peaks.get)
    return Target(
        name,
        "MET" if peaks[worst_stage] < PEAK_MAX_MB else "MISSED",
        f"högst {peaks[worst_stage]:.0f} MB ({worst_stage})",
    )


def _publish_target(results: dict[int, SizeResult]) -> Target:
    name = "Publicering av alla förbunds rapporter och jämförelsen ≤ datavägens tid, 1 M"
    r = results.get(PUBLISH_SIZE)
    if not r or "publish" not in r.stages or "data_path" not in r.stages:
        return Target(name, "NOT RUN", "1 M kördes inte")
    publish, data = r.stages["publish"].seconds, r.stages["data_path"].seconds
    return Target(
        name,
        "MET" if publish <= data else "MISSED",
        f"{publish:.1f} s mot {data:.1f} s = {publish / data:.2f} ×",
    )


def _nightly_target(results: dict[int, SizeResult]) -> Target:
    name = "En natt utan nytt återvänder före sammanslagningen (läser lagrets egna filer)"
    runs = {n: r.raw["nightly"] for n, r in sorted(results.items()) if "nightly" in r.raw}
    if not runs:
        return Target(name, "NOT RUN", "kördes inte")
    merged = [n for n, out in runs.items() if "sammanslagning" in out.get("stages", [])]
    detail = ", ".join(f"{_size(n)}: {float(out['seconds']):.2f} s" for n, out in runs.items())
    if merged:
        detail += "; slog samman vid " + ", ".join(_size(n) for n in merged)
    return Target(name, "MISSED" if merged else "MET", detail)


def evaluate(results: dict[int, SizeResult], example: dict[str, object] | None) -> list[Target]:
    targets = [
        _data_path_target(results),
        _peak_target(results.get(10_000_000)),
        _publish_target(results),
        _nightly_target(results),
    ]
    if example:
        seconds = float(example["make_report_s"])
        targets.append(
            Target(
                f"`make report` på exempelförbundet < {EXAMPLE_MAX_S:g} s",
                "MET" if seconds < EXAMPLE_MAX_S else "MISSED",
                f"{seconds:.1f} s (run_report {float(example['seconds']):.1f} s + start och "
                "importer)",
            )
        )
    else:
        targets.append(Target(f"`make report` < {EXAMPLE_MAX_S:g} s", "NOT RUN", "kördes inte"))
    return targets


# --- Report -------------------------------------------------------------------------------------


def _size(n: int) -> str:
    return f"{n // 1_000_000} M" if n >= 1_000_000 else f"{n // 1_000} k"


def _pkg(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "–"


def code_version() -> str:
    """`git describe --always --dirty` of the checkout (the code measured), else "–"."""
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "–"


def code_fingerprint() -> str:
    """SHA-256 of the measured code (pipeline/ and benchmarks/ sources), to see whether it
    changed while it was measured (a commit alone does not change it)."""
    digest = hashlib.sha256()
    for path in sorted([*ROOT.glob("pipeline/**/*.py"), *HERE.glob("*.py")]):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or "–"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        ram = f"{mem_kb / 1024**2:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        ram = "–"
    return {
        "datum": dt.datetime.now().isoformat(timespec="seconds"),
        "kod (git)": code_version(),
        "kodens innehåll (sha256)": code_fingerprint(),
        "kärnor": str(os.cpu_count()),
        "processor": cpu,
        "minne": ram,
        "system": platform.platform(),
        "python": platform.python_version(),
        **{name: _pkg(name) for name in PACKAGES},
    }


STAGE_ROWS = (
    ("floor", "ren inläsning (polars, golvet)"),
    ("read", "läs (ingest)"),
    ("validate", "validera"),
    ("store", "lager (build_store)"),
    ("compute", "beräkna tabeller"),
    ("publish", "publicera"),
    ("data_path", "datavägen (lager + beräkna)"),
    ("report", "hela rapporten"),
    ("nightly", "natt utan nytt (run_nightly)"),
    ("pandas", "pandas-referensen"),
    ("duckdb", "DuckDB-SQL (deltagare och utfall)"),
)


def _equality_text(problems: list[str] | None) -> str:
    if problems is None:
        return "inte jämförda"
    return "**ja**" if not problems else "**NEJ**: " + "; ".join(problems)


def _log_stages(report: dict[str, object]) -> str:
    """The report's log stages, summed by name (a pooled store logs one per förbund)."""
    summed: dict[str, list[float]] = {}
    for e in report.get("stages", []):
        entry = summed.setdefault(str(e["name"]), [0.0, 0.0, 0])
        entry[0] += float(e["since_previous_s"])
        entry[1] = max(entry[1], float(e["peak_mb"]))
        entry[2] += 1
    return ", ".join(
        f"{name} {s:.2f} / {peak:.0f}" + (f" ({n} gånger)" if n > 1 else "")
        for name, (s, peak, n) in summed.items()
    )


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if not a or not b else f"{a / b:.2f} ×"


def _fmt(value: float | None, pattern: str) -> str:
    return "–" if value is None else format(value, pattern)


def render_markdown(
    info: dict[str, str],
    results: dict[int, SizeResult],
    example: dict[str, object] | None,
    targets: list[Target],
    findings: str,
) -> str:
    lines = [
        "# Prestandamätning",
        "",
        "Genererad av `make bench` (`python -m benchmarks.run`); ändra inte för hand. "
        "Analys och förslag finns längst ned (från `benchmarks/findings.md`).",
        "",
        "## Maskin",
        "",
        *(f"- {key}: {value}" for key, value in info.items()),
        "",
        "## Mål",
        "",
        "| mål | status | mätt |",
        "|---|---|---|",
        *(f"| {t.name} | **{t.status}** | {t.detail} |" for t in targets),
        "",
        "## Indata",
        "",
        f"Syntetiska episoder (`pipeline.example.generator.generate_episodes`, "
        f"{N_INSATSER} insatser i "
        f"{N_INSATSER // 9} förbund, 2021–{END_YEAR}) som CSV-exporter: en fil per förbund och "
        "år med årets nya episoder och de som pågick vid årets början (som kända vid årets "
        "slut; en senare fil vinner), blandat Windows-1252/semikolon/svenska rubriker, UTF-8 "
        "med BOM/komma/svenska rubriker och UTF-8/komma/kanoniska rubriker. Rader/s = rader i "
        "filerna per sekund. Rapportperiod: "
        f"{END_YEAR}. Varje steg körs i en ny process; toppminne = högsta RSS under steget "
        "(VmHWM nollställd före steget), inklusive indata steget håller. Golvet (ren "
        "inläsning med polars) är det bästa av två körningar. Lager, beräkna och publicera är "
        "delar av körningen av hela rapporten (dess loggsteg).",
        "",
        "| episoder | filer | rader i filerna | MB | personer |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n, r in sorted(results.items()):
        lines.append(
            f"| {_size(n)} | {r.inputs['files']} | {r.inputs.get('rows', '–')} "
            f"| {int(r.inputs['bytes']) / 1e6:.0f} | {r.inputs['persons']} |"
        )
    for n, r in sorted(results.items()):
        lines += [
            "",
            f"## {_size(n)} episoder",
            "",
            "| steg | sekunder | rader/s | toppminne MB | × golvet |",
            "|---|---:|---:|---:|---:|",
        ]
        floor = r.stages["floor"].seconds if "floor" in r.stages else None
        for key, label in STAGE_ROWS:
            m = r.stages.get(key)
            if m is None:
                continue
            times_floor = m.seconds / floor if floor else None
            lines.append(
                f"| {label} | {m.seconds:.2f} | {_fmt(m.rows_per_s, ',.0f')} "
                f"| {_fmt(m.peak_mb, '.0f')} | {_fmt(times_floor, '.2f')} |"
            )
        report = r.raw.get("report", {})
        pandas = r.raw.get("pandas", {})
        sql = r.raw.get("duckdb", {})

        def seconds(stage: str, rr: SizeResult = r) -> float | None:
            return rr.stages[stage].seconds if stage in rr.stages else None

        lines += [""]
        lines += [f"- **{stage} misslyckades**: {why}" for stage, why in r.failed.items()]
        lines += [
            f"- pandas ÷ hela rapporten: {_ratio(seconds('pandas'), seconds('report'))}; "
            f"pandas ÷ datavägen: {_ratio(seconds('pandas'), seconds('data_path'))}",
            f"- DuckDB-SQL ÷ datavägen: {_ratio(seconds('duckdb'), seconds('data_path'))} "
            f"(DuckDB läser {_fmt(sql.get('read_s'), '.2f')} s och beräknar deltagare och "
            f"utfall på {_fmt(sql.get('compute_s'), '.2f')} s, utan validering)",
            f"- pandas läser {_fmt(pandas.get('read_s'), '.2f')} s och beräknar tre "
            f"tabeller på {_fmt(pandas.get('compute_s'), '.2f')} s; pipelinen beräknar "
            f"alla åtta tabeller på {_fmt(seconds('compute'), '.2f')} s "
            f"({_ratio(pandas.get('compute_s'), seconds('compute'))} snabbare)",
            f"- {report.get('reports', 1)} rapport(er) och jämförelsen: "
            f"{report.get('charts', '–')} diagram (PNG + SVG), rapport.html sammanlagt "
            f"{_fmt(report.get('html_mb'), '.1f')} MB",
            "- rapportens loggsteg (sekunder / toppminne MB): " + _log_stages(report),
            "- natt utan nytt, loggsteg: "
            + (", ".join(r.raw.get("nightly", {}).get("stages", [])) or "–")
            + f" (slutkoder {r.raw.get('nightly', {}).get('exit_codes', '–')})",
            "- pandas-referensens tabeller (deltagare, utfall, maluppfyllelse) = pipelinens: "
            + _equality_text(r.equality),
            "- DuckDB-SQL:ens deltagare och utfall (antalen) = pipelinens: "
            + _equality_text(r.duckdb_equality),
            f"- systemlast (1 min) under mätningen: {min(r.load):.1f}–{max(r.load):.1f} "
            f"(2 kärnor; över ~2 betyder att andra processer tog tid)",
        ]
    if example:
        lines += [
            "",
            "## Exempelförbundet (`make report`)",
            "",
            f"- hela körningen (start, importer, run_report): {example['make_report_s']:.2f} s",
            f"- varav run_report: {float(example['seconds']):.2f} s; toppminne "
            f"{float(example['peak_mb']):.0f} MB",
            "- per steg: "
            + ", ".join(
                f"{s['name']} {float(s['since_previous_s']):.2f} s" for s in example["stages"]
            ),
        ]
    lines += ["", findings.strip(), ""]
    return "\n".join(lines)


# --- Entry point --------------------------------------------------------------------------------


def parse_sizes(text: str | None) -> tuple[int, ...]:
    if not text:
        return DEFAULT_SIZES
    return tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES"))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--output", type=Path, default=HERE / "results.md")
    parser.add_argument("--no-example", action="store_true")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="skriv om results.md från senaste körningens mätningar (work/senaste.json)",
    )
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(message, flush=True)

    saved = args.work / LAST_RUN_FILE
    if args.render_only:
        run = json.loads(saved.read_text(encoding="utf-8"))
    else:
        run = {"info": machine_info(), "sizes": [], "example": None}
        for size in parse_sizes(args.sizes):
            say(f"{_size(size)} episoder")
            run["sizes"].append(measure_size(size, args.seed, args.work.resolve(), say))
            # Saved after each size: a later failure (or a kill) keeps what was measured.
            atomic.write_text(saved, json.dumps(run, indent=1, ensure_ascii=False))
        if not args.no_example:
            try:
                run["example"] = measure_example(args.work.resolve())
                say(f"exempelförbundet: {run['example']['make_report_s']:.2f} s")
            except StageFailed as exc:  # the sizes still count; the target shows NOT RUN
                say(f"exempelförbundet MISSLYCKADES: {str(exc).splitlines()[-1][:300]}")
        ended, fingerprint = code_version(), code_fingerprint()
        if ended != run["info"]["kod (git)"]:  # a commit during the run
            run["info"]["kod (git)"] += f" vid start, {ended} vid slut"
        if fingerprint != run["info"]["kodens innehåll (sha256)"]:
            run["info"]["kodens innehåll (sha256)"] += f" vid start, {fingerprint} vid slut: "
            run["info"]["kodens innehåll (sha256)"] += "KODEN ÄNDRADES UNDER MÄTNINGEN"
        else:
            run["info"]["kodens innehåll (sha256)"] += " (oförändrat under mätningen)"
        atomic.write_text(saved, json.dumps(run, indent=1, ensure_ascii=False))
    info, example = run["info"], run["example"]
    results = {int(m["size"]): size_result(m) for m in run["sizes"]}
    targets = evaluate(results, example)
    findings_path = HERE / "findings.md"
    findings = findings_path.read_text(encoding="utf-8") if findings_path.exists() else ""
    markdown = render_markdown(info, results, example, targets, findings)
    atomic.write_text(args.output, markdown)
    say("")
    for t in targets:
        say(f"{t.status:8s} {t.name}: {t.detail}")
    say(f"Resultat skrivna till {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
