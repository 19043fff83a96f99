"""Command-line interface: a thin layer over the Python API (argument parsing and exit codes).

    python -m pipeline ingest  --raw DIR --processed DIR
    python -m pipeline report  [--year YYYY | --from DATE --to DATE] [--raw --processed --reports]
                               [--forbund ID | --alla-forbund]
    python -m pipeline nightly [--raw --processed --reports] [--strict]
    python -m pipeline example --raw DIR

Exit codes: pipeline.core.exit_codes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from pipeline.core import log
from pipeline.core.catalog import CatalogError
from pipeline.core.config import DEFAULT_PROCESSED, DEFAULT_RAW, DEFAULT_REPORTS, Settings
from pipeline.core.exit_codes import EXIT_FAILED, EXIT_NO_DATA, EXIT_OK, EXIT_REJECTIONS
from pipeline.core.period import Period
from pipeline.ingest.validate import ValidationDisabled


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ogiltigt datum '{value}' (ÅÅÅÅ-MM-DD)") from None


def _folders(parser: argparse.ArgumentParser, *, reports: bool = True) -> None:
    parser.add_argument("--raw", type=Path, default=DEFAULT_RAW, help="råmapp med exporter")
    parser.add_argument("--processed", type=Path, default=DEFAULT_PROCESSED, help="mapp för lagret")
    if reports:
        parser.add_argument(
            "--reports", type=Path, default=DEFAULT_REPORTS, help="mapp för rapporten"
        )
    parser.add_argument("--k", type=int, default=None, help="röjandegräns k (standard 5)")
    parser.add_argument("--quiet", action="store_true", help="bara varningar och fel")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Uppföljning av insatser för samordningsförbund.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="validera exporter och uppdatera lagret")
    _folders(ingest, reports=False)

    report = commands.add_parser("report", help="bygg tabeller, diagram och rapport")
    _folders(report)
    report.add_argument("--year", type=int, help="kalenderår, t.ex. 2025")
    report.add_argument("--from", dest="start", type=_date, help="periodens första dag")
    report.add_argument("--to", dest="end", type=_date, help="periodens sista dag")
    report.add_argument(
        "--word-mall",
        dest="word_template",
        type=Path,
        default=None,
        help="förbundets Word-mall (.docx) vars format rapport.docx ska ha",
    )

    pooled = report.add_mutually_exclusive_group()
    pooled.add_argument(
        "--forbund",
        action="append",
        metavar="ID",
        help="ett förbunds rapport ur ett gemensamt lager (kan anges flera gånger)",
    )
    pooled.add_argument(
        "--alla-forbund",
        dest="alla_forbund",
        action="store_true",
        help="en rapport per förbund i ett gemensamt lager, och jämförelserapporten",
    )

    nightly = commands.add_parser("nightly", help="nattlig körning: bara nya filer")
    _folders(nightly)
    nightly.add_argument(
        "--strict", action="store_true", help="varje avvisad rad eller fil gör körningen misslyckad"
    )

    example = commands.add_parser("example", help="skriv exempelförbundet (fiktiva data)")
    example.add_argument("--raw", type=Path, default=DEFAULT_RAW)
    example.add_argument(
        "--gemensamt",
        action="store_true",
        help="ett gemensamt lager med 30 påhittade förbund (för --alla-forbund)",
    )
    example.add_argument(
        "--episoder", type=int, default=None, help="antal episoder i det gemensamma lagret"
    )

    template = commands.add_parser("template", help="skriv insändningsmallen för parterna (XLSX)")
    template.add_argument("--raw", type=Path, default=DEFAULT_RAW, help="råmapp med insatser.toml")
    template.add_argument("--out", type=Path, required=True, help="mallens fil, t.ex. mall.xlsx")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    base = Settings()
    return Settings(
        raw=args.raw,
        processed=getattr(args, "processed", base.processed),
        reports=getattr(args, "reports", base.reports),
        k=args.k if getattr(args, "k", None) is not None else base.k,
        word_template=getattr(args, "word_template", None),
    )


def _period(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Period:
    from pipeline.jobs.run import default_period

    if args.year is not None and (args.start or args.end):
        parser.error("ange antingen --year eller --from/--to, inte båda")
    if args.year is not None:
        return Period.year(args.year)
    if args.start or args.end:
        if not (args.start and args.end):
            parser.error("--from och --to måste anges tillsammans")
        try:
            return Period(args.start, args.end)
        except ValueError as exc:
            parser.error(str(exc))
    return default_period()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "k", None) is not None and args.k < 1:
        parser.error("--k måste vara minst 1")
    log.setup_logging(quiet=getattr(args, "quiet", False))
    try:
        return _dispatch(args, parser)
    except CatalogError as exc:
        log.logger.error(f"Insatskatalogen: {exc}")
        return EXIT_FAILED
    except (FileNotFoundError, FileExistsError, ValidationDisabled) as exc:
        log.logger.error(str(exc))
        return EXIT_FAILED


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from pipeline.core.lock import LockHeld, hold
    from pipeline.jobs.run import InputError
    from pipeline.publish.disclosure import DisclosureError

    if args.command == "example":
        from pipeline.jobs.run import write_example

        summary = write_example(args.raw, pooled=args.gemensamt, n_episodes=args.episoder)
        print(
            f"Exempelförbundet (FIKTIVA data) skrevs till {args.raw}: {len(summary.files)} filer, "
            f"{summary.n_episodes} episoder."
        )
        return EXIT_OK
    if args.command == "template":
        from pipeline.core.catalog import read_catalog
        from pipeline.core.config import CATALOG_FILE
        from pipeline.parties.template import write_template

        try:
            out = write_template(args.out, read_catalog(args.raw / CATALOG_FILE))
        except CatalogError as exc:
            log.logger.error(str(exc))
            return EXIT_FAILED
        print(f"Insändningsmallen skrevs till {out}.")
        return EXIT_OK
    settings = _settings(args)
    if args.command == "nightly":
        from pipeline.jobs.nightly import run_nightly

        return run_nightly(settings, strict=args.strict)
    period = _period(args, parser) if args.command == "report" else None
    try:
        if args.command == "report":  # before the lock: a wrong path writes nothing
            from pipeline.jobs.run import ensure_word_template

            ensure_word_template(settings.word_template)
        # One writer of the store at a time, the nightly job included (pipeline.core.lock).
        with hold(settings.processed, args.command):
            if args.command == "ingest":
                from pipeline.jobs.run import is_example_input
                from pipeline.store import build_store

                if not settings.raw.is_dir():
                    raise InputError(f"Råmappen {settings.raw} finns inte.")
                is_example_input(settings.raw)  # refuses example and real data mixed
                store = build_store(settings.raw, settings.processed)
                if store.files_read == 0:
                    log.error(
                        "INGA DATA: ingen export kunde läsas in; se "
                        f"{settings.processed / 'datakvalitet.md'}"
                    )
                print(_ingest_summary(store, settings))
                return EXIT_REJECTIONS if store.rejected_rows or store.rejected_files else EXIT_OK
            if args.forbund or args.alla_forbund:
                from pipeline.jobs.run import run_pooled_report

                pooled = run_pooled_report(settings, period, args.forbund)
                print(_pooled_summary(pooled))
                return EXIT_NO_DATA if pooled.no_data else EXIT_OK
            from pipeline.jobs.run import run_report

            result = run_report(settings, period)
    except (InputError, LockHeld) as exc:
        log.logger.error(str(exc))
        return EXIT_FAILED
    except DisclosureError as exc:  # nothing was published: the old report stands
        log.logger.error(f"INGEN RAPPORT: {exc}")
        return EXIT_FAILED
    if result.no_data:
        # Said first, before the summary: a report of nothing must not look like a report.
        print(
            f"OBS: INGA DATA för {result.period.swedish}: inga godkända insatsperioder under "
            "perioden. Rapporten är märkt som utan data."
        )
    print(_report_summary(result))
    return EXIT_NO_DATA if result.no_data else EXIT_OK


def _pooled_summary(pooled) -> str:
    marking = " (FIKTIVA EXEMPELDATA)" if pooled.is_example else ""
    lines = [f"Rapporter för {pooled.period.swedish}{marking}, {len(pooled.reports)} förbund:"]
    for forbund_id, result in pooled.reports.items():
        empty = " – OBS: INGA DATA" if result.no_data else ""
        lines.append(f"  {forbund_id}: {result.report_dir / 'rapport.html'}{empty}")
    if pooled.comparison_dir is not None:
        lines.append(f"Jämförelse: {pooled.comparison_dir / 'rapport.html'}")
    exact = next(iter(pooled.reports.values())).exact_dir.parent  # <processed>/<label>
    lines.append(f"Exakta tabeller (endast för analytiker) per förbund under {exact}")
    lines.append(_ingest_summary(pooled.store, Settings(raw=Path(), processed=exact.parent)))
    return "\n".join(lines)


def _ingest_summary(store, settings: Settings) -> str:
    return (
        f"Lagret i {settings.processed}: {store.episodes.height} episoder från "
        f"{store.files.height} filer; {store.rejected_rows} rader i karantän, "
        f"{store.rejected_files} filer avvisade"
        + ("" if store.changed else " (oförändrat, inget skrevs om)")
        + f". Se {settings.processed / 'datakvalitet.md'}."
    )


def _report_summary(result) -> str:
    marking = " (FIKTIVA EXEMPELDATA)" if result.is_example else ""
    return (
        f"Rapport för {result.period.swedish}{marking}: {result.report_dir / 'rapport.html'}\n"
        f"Publicerade tabeller: {result.report_dir / 'tabeller'}\n"
        f"Exakta tabeller (endast för förbundets analytiker): {result.exact_dir}\n"
        f"{_ingest_summary(result.store, Settings(raw=Path(), processed=result.exact_dir.parent))}"
    )


if __name__ == "__main__":
    sys.exit(main())
