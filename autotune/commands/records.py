"""``autotune records``: look into a record store (``export --jsonl``, ``summary``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from autotune.commands.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from autotune.records import RecordStore, RecordStoreError, default_url
from autotune.records.store import normalise_url


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("records", help="export or summarise the records of tuning runs",
                       description="Read the record store of a work directory (its autotune.db) "
                                   "or of a storage URL (--storage sqlite:///... or "
                                   "postgresql://...). Nothing is created or changed.")
    rsub = p.add_subparsers(dest="records_command", required=True, metavar="ACTION")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("workdir", nargs="?", help="work directory (default: the current one)")
        q.add_argument("--storage", metavar="URL",
                       help="storage URL instead of WORKDIR/autotune.db")

    e = rsub.add_parser("export", help="dump every record, one JSON object per line",
                        description="Dump every workload, candidate and measurement with all "
                                    "their fields as JSON Lines (a 'type' field says which).")
    common(e)
    e.add_argument("--jsonl", action="store_true", required=True, help="JSON Lines (the format)")
    e.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    e.set_defaults(func=run_export)

    s = rsub.add_parser("summary", help="counts per workload and the best time",
                        description="One line per workload: candidates, measurements (verified), "
                                    "the best verified median time and its candidate.")
    common(s)
    s.set_defaults(func=run_summary)


def _first_line(e: BaseException) -> str:
    msg = str(getattr(e, "orig", None) or e).strip()
    return msg.splitlines()[0] if msg else type(e).__name__


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(normalise_url(url)).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return "(unparsable URL)"


def _open(args: argparse.Namespace) -> RecordStore | None:
    if args.storage and args.workdir:
        print("error: give a WORKDIR or --storage, not both", file=sys.stderr)
        return None
    if args.storage:
        url = args.storage
    else:
        workdir = Path(args.workdir or ".")
        if not workdir.is_dir():
            print(f"error: work directory {workdir} does not exist", file=sys.stderr)
            return None
        url = default_url(workdir)
    try:
        return RecordStore(url, create=False)
    except RecordStoreError as e:
        print(f"error: {e}", file=sys.stderr)
    except (SQLAlchemyError, ValueError, ImportError) as e:
        print(f"error: cannot open the record store {_safe(url)}: {_first_line(e)}",
              file=sys.stderr)
    return None


def run_export(args: argparse.Namespace) -> int:
    store = _open(args)
    if store is None:
        return EXIT_USAGE
    out: IO[str]
    try:
        with store:
            if args.output:
                tmp = Path(args.output + ".part")
                with tmp.open("w") as out:
                    n = store.export_jsonl(out)
                tmp.replace(args.output)
                print(f"exported {n} records to {args.output}", file=sys.stderr)
            else:
                store.export_jsonl(sys.stdout)
                sys.stdout.flush()
    except SQLAlchemyError as e:
        print(f"error: reading the record store failed: {_first_line(e)}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # `... | head`
        return EXIT_OK
    return EXIT_OK


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3f} {unit}"
    return f"{seconds / 1e-9:.1f} ns"


def run_summary(args: argparse.Namespace) -> int:
    store = _open(args)
    if store is None:
        return EXIT_USAGE
    try:
        with store:
            rows, counts = store.summary(), store.counts()
    except SQLAlchemyError as e:
        print(f"error: reading the record store failed: {_first_line(e)}", file=sys.stderr)
        return EXIT_FAILED
    print(f"store: {store.safe_url}")
    print(f"{counts['workloads']} workloads, {counts['candidates']} candidates, "
          f"{counts['measurements']} measurements")
    if rows:
        head = f"{'id':>4}  {'operator':<20} {'direction':<12} {'shape':<12} {'cands':>6} " \
               f"{'meas':>6} {'ok':>6}  {'best':>12}  best cand"
        print(head)
        for r in rows:
            direction = f"{r['source_platform']}->{r['target_platform']}"
            best = r["best_candidate"] if r["best_candidate"] is not None else "-"
            print(f"{r['workload_id']:>4}  {(r['operator'] or '?'):<20} {direction:<12} "
                  f"{r['shape']:<12} {r['candidates']:>6} {r['measurements']:>6} {r['ok']:>6}  "
                  f"{_time(r['best_s']):>12}  {best}")
    return EXIT_OK
