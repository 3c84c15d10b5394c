"""The `qconform` command: impls, run, report, serve, capture."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.errors import QconformError

if TYPE_CHECKING:
    from conformance.implementations import Implementation


def _impl_paths(pairs: list[str]) -> dict[str, str]:
    paths = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise QconformError(f"--impl-path wants NAME=PATH, got {pair!r}")
        paths[name] = path
    return paths


def cmd_impls(args: argparse.Namespace) -> int:
    from conformance.implementations import discover
    from conformance.nbd.backends import inventory as nbd_inventory
    from conformance.nbd.backends import inventory_lines as nbd_inventory_lines

    found, missing = discover(_impl_paths(args.impl_path))
    if args.json:
        from conformance.results import implementation_record

        doc = {"found": [implementation_record(i) for i in found], "missing": [m.__dict__ for m in missing]}
        doc["nbd"] = nbd_inventory()
        print(json.dumps(doc, indent=1))
        return 0
    for impl in found:
        where = impl.binary or "(this process)"
        print(f"{impl.name:18} {impl.version:10} {impl.backend:10} profile {impl.profile.name:5} {where}")
    for gone in missing:
        print(f"{gone.name:18} missing: {gone.reason}")
    print("\n".join(nbd_inventory_lines()))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from conformance.cases import load_cases
    from conformance.divergences import load_divergences
    from conformance.implementations import KNOWN_NAMES, discover, select
    from conformance.jsonfile import write_json, write_text
    from conformance.process import install_cleanup_handlers
    from conformance.report import render_markdown
    from conformance.results import results_document
    from conformance.runner import InstancePool, run_case

    install_cleanup_handlers()
    strict = args.strict or os.environ.get("CI") == "true"
    found, missing = discover(_impl_paths(args.impl_path))
    # --impl names members of any family (QMP implementations, NBD servers); each family runs
    # the members named, or all of them when none is named at all.
    nbd_names = _nbd_server_names() if args.nbd else set()
    qmp_wanted = [name for name in args.impl if name not in nbd_names or name in KNOWN_NAMES]
    nbd_wanted = [name for name in args.impl if name in nbd_names]
    impls = select(qmp_wanted, found, missing, strict=strict) if qmp_wanted or not args.impl else []
    cases = load_cases([Path(p) for p in args.cases] if args.cases else None)
    known = load_divergences()
    for path in (args.output, args.report):
        if path is not None:
            _check_writable(Path(path), create_folder=True)
    for gone in missing:
        if not args.impl or gone.name in args.impl:
            print(f"skipping {gone.name}: {gone.reason}", file=sys.stderr)
    started_iso = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    started = time.monotonic()
    pool = InstancePool()
    results = []
    try:
        for impl in impls:
            for case in cases:
                results.append(run_case(case, impl, pool, known))
    finally:
        pool.close()
    absent = [m for m in missing if not args.impl or m.name in args.impl]
    nbd_runs = _run_nbd_matrix(nbd_wanted) if args.nbd and (nbd_wanted or not args.impl) else []
    block = _run_block_tables(impls, absent, known, strict) if args.block else None
    document = results_document(results, impls, absent, started_iso, time.monotonic() - started)
    document["nbd"] = [run.to_json() for run in nbd_runs]
    if block is not None:
        document["block"] = block
    if args.output:
        write_json(Path(args.output), document)
    markdown = render_markdown(document)
    if args.report:
        write_text(Path(args.report), markdown)
    unexplained = [r for r in results if r.status in ("diverge", "crash", "timeout", "error") and not r.known]
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    if impls:
        print(f"{len(cases)} cases × {len(impls)} implementations: {summary}")
    for r in unexplained:
        print(f"FINDING {r.case} on {r.implementation}: {r.status}: {r.detail[:200]}")
    block_findings = _block_findings(block)
    # Under CI a host QEMU the tables could not run on (no root, no setpriv) fails the run too.
    block_missing = strict and any(
        s["implementation"] in HOST_QEMUS for s in (block or {}).get("skipped", [])
    )
    if args.report:
        print(f"report: {args.report}")
    return 1 if unexplained or block_findings or block_missing or (strict and absent) else 0


HOST_QEMUS = ("qsd", "qemu-system")  # the block tables' implementations on this host


def _run_block_tables(impls: list[Any], absent: list[Any], known: Any, strict: bool) -> dict[str, Any]:
    """The block truth tables on every implementation that supports them; why not on the others."""
    from conformance.block.tables import FAMILIES, Skipped, run_tables
    from conformance.results import block_section

    cells: list[Any] = []
    skipped: list[Skipped] = []
    for impl in impls:
        records, skips = run_tables(impl, known)
        cells += records
        skipped += skips
        if records:
            agree = sum(r.status == "pass" for r in records)
            print(f"block tables on {impl.name}: {agree} of {len(records)} cells agree")
    for gone in absent:  # a host binary the tables would have run on
        if gone.name in HOST_QEMUS:
            skipped += [Skipped(gone.name, family, gone.reason) for family in FAMILIES]
    for skip in skipped:
        if skip.implementation in HOST_QEMUS and strict:
            print(f"block tables not run on {skip.implementation}: {skip.reason}", file=sys.stderr)
    return block_section((r.to_json() for r in cells), (s.to_json() for s in skipped))


def _block_findings(block: dict[str, Any] | None) -> list[dict[str, Any]]:
    if block is None:
        return []
    found = [c for c in block["cells"] if c["status"] != "pass" and not c.get("known")]
    for c in found:
        print(f"FINDING block {c['id']} on {c['implementation']}: {c['status']}: {c['detail'][:200]}")
    return found


def _nbd_server_names() -> set[str]:
    from conformance.nbd.matrix import load_matrix

    return {spec.name for spec in load_matrix().servers}


def _run_nbd_matrix(wanted: list[str]) -> list[Any]:
    """The NBD servers named (every one found if none), read-only and writable, through every probe."""
    from conformance.nbd.matrix import load_matrix
    from conformance.nbd.runner import MODES, missing_reason, run_server

    matrix = load_matrix()
    runs = []
    for spec in matrix.servers:
        if wanted and spec.name not in wanted:
            continue
        reason = missing_reason(spec)
        if reason:
            print(f"skipping NBD server {spec.name}: {reason}", file=sys.stderr)
            continue
        for mode in MODES:
            runs.append(run_server(spec, mode, matrix))
    return runs


def _check_writable(path: Path, create_folder: bool = False) -> None:
    from conformance.jsonfile import check_writable

    if create_folder and not path.parent.exists():
        try:
            path.parent.mkdir(parents=True)
        except OSError as err:
            raise QconformError(
                f"{path}: cannot create folder {path.parent}: {err.strerror or err}"
            ) from None
    if not path.parent.is_dir():
        raise QconformError(f"{path}: folder {path.parent} does not exist")
    check_writable(path)


def cmd_report(args: argparse.Namespace) -> int:
    from conformance.report import render_markdown
    from conformance.results import read_results

    markdown = render_markdown(read_results(Path(args.results)))
    if args.output:
        from conformance.jsonfile import write_text

        write_text(Path(args.output), markdown)
    else:
        sys.stdout.write(markdown)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from conformance.implementations import INTROSPECTION_DIR
    from conformance.snapshots import model_from_file
    from conformance.storage import HostStorage
    from reference.profiles import UnknownProfile, get_profile
    from reference.server.qmp_server import serve_forever

    try:
        profile = get_profile(args.profile)
    except UnknownProfile as err:
        raise QconformError(str(err)) from None
    snapshot = Path(args.snapshot) if args.snapshot else INTROSPECTION_DIR / "qsd-7.2.json"
    model = model_from_file(snapshot, profile, exact_identity=True, real_clock=True)
    # As a server the reference sees the real files, as this process can open them.
    model.attach_storage(HostStorage())
    socket_path = Path(args.socket)
    if not socket_path.parent.is_dir():
        raise QconformError(f"{socket_path}: folder {socket_path.parent} does not exist")
    try:
        serve_forever(model, socket_path)
    except KeyboardInterrupt:
        pass
    except OSError as err:
        raise QconformError(f"{socket_path}: cannot serve: {err.strerror or err}") from None
    return 0


def cmd_serve_nbd(args: argparse.Namespace) -> int:
    from reference.nbd.server import Export
    from reference.server.nbd_server import parse_backing, serve_forever

    socket_path = Path(args.socket) if args.socket else None
    if socket_path is not None and not socket_path.parent.is_dir():
        raise QconformError(f"{socket_path}: folder {socket_path.parent} does not exist")
    try:
        storage = parse_backing(args.backing, args.read_only)
    except (ValueError, OSError) as err:
        raise QconformError(f"{args.backing}: {err}") from None
    export = Export(args.export, storage, args.read_only)
    try:
        serve_forever(export, socket_path=socket_path, port=args.port)
    except OSError as err:
        raise QconformError(f"cannot serve: {err.strerror or err}") from None
    return 0


def cmd_capture(args: argparse.Namespace) -> int:
    from conformance.capture import capture
    from conformance.implementations import discover, select
    from conformance.jsonfile import write_json
    from conformance.process import StartError, install_cleanup_handlers

    install_cleanup_handlers()
    _check_writable(Path(args.output))
    found, missing = discover(_impl_paths(args.impl_path))
    (impl,) = select([args.impl], found, missing, strict=True)
    if args.int_types_only:
        return _int_types_only(impl, Path(args.output))
    try:
        snapshot = capture(impl)
    except (StartError, TimeoutError, OSError) as err:
        raise QconformError(f"capture from {impl.name} failed: {err}") from None
    write_json(Path(args.output), snapshot)
    print(f"{args.output}: {impl.name} {impl.version}, {len(snapshot['query-qmp-schema'])} schema entries")
    if args.int_types:
        from conformance.int_types import capture_int_types, table_path

        try:
            result = capture_int_types(impl, Path(args.output))
        except (StartError, TimeoutError, OSError) as err:
            raise QconformError(f"integer probe of {impl.name} failed: {err}") from None
        classified = sum(len(members) for members in result.table.values())
        where = table_path(Path(args.output))
        print(f"{where}: {classified} integer members, {len(result.unreached)} unreached")
    return 0


def _int_types_only(impl: Implementation, snapshot_path: Path) -> int:
    from conformance.int_types import table_for_snapshot, table_path
    from conformance.process import StartError

    try:
        result = table_for_snapshot(impl, snapshot_path)
    except (StartError, TimeoutError, OSError) as err:
        raise QconformError(f"integer probe of {impl.name} failed: {err}") from None
    classified = sum(len(members) for members in result.table.values())
    print(
        f"{table_path(snapshot_path)}: {classified} integer members, {len(result.unreached)} unreached,"
        f" {result.seconds:.1f} s"
    )
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    from conformance.images import RECIPES, build

    suites = args.suite or list(RECIPES)
    for suite in suites:
        if suite not in RECIPES:
            raise QconformError(f"unknown suite {suite!r} (known: {', '.join(RECIPES)})")
    for suite in suites:
        manifest = build(RECIPES[suite])
        packages = ", ".join(f"{name} {version}" for name, version in manifest["packages"].items())
        print(f"{manifest['tag']}: {packages}")
    return 0


def cmd_fuzz(args: argparse.Namespace) -> int:
    from fuzz.campaign import run_campaign

    return run_campaign(args.target, Path(args.dir), args.seconds, args.libfuzzer, args.impl)


def cmd_promote(args: argparse.Namespace) -> int:
    from conformance.cases import load_cases
    from fuzz.campaign import REGRESSIONS, promote

    promote(Path(args.finding), args.id, args.description)
    load_cases()  # the new case must load like every other
    print(f"{REGRESSIONS}: added case {args.id}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qconform", description="Conformance suite for QEMU's QMP, block graph and NBD."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def impl_path(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--impl-path",
            action="append",
            default=[],
            metavar="NAME=PATH",
            help="use this binary for implementation NAME (a vendor's build)",
        )

    p = sub.add_parser("impls", help="list the implementations found, and why any is missing")
    impl_path(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_impls)

    p = sub.add_parser("run", help="run the conformance cases and write results and a report")
    impl_path(p)
    p.add_argument(
        "--impl",
        action="append",
        default=[],
        metavar="NAME",
        help="a QMP implementation or NBD server (repeatable); each family runs the ones named, "
        "all found if none is named",
    )
    p.add_argument("--cases", nargs="+", metavar="FILE", help="case files (default: fixtures/qmp/*.json)")
    p.add_argument("-o", "--output", metavar="FILE", help="results JSON")
    p.add_argument("--report", metavar="FILE", help="Markdown report")
    p.add_argument(
        "--strict", action="store_true", help="a missing implementation fails the run (default under CI=true)"
    )
    p.add_argument("--no-nbd", dest="nbd", action="store_false", help="skip the NBD server probe matrix")
    p.add_argument("--no-block", dest="block", action="store_false", help="skip the block truth tables")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="render a results JSON file as Markdown")
    p.add_argument("results")
    p.add_argument("-o", "--output", metavar="FILE")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("serve", help="serve the reference on a socket")
    serve = p.add_subparsers(dest="protocol", required=True)
    q = serve.add_parser("qmp", help="the reference QMP monitor on a unix socket")
    q.add_argument("--socket", required=True, metavar="PATH")
    q.add_argument("--profile", default="7.2")
    q.add_argument("--snapshot", metavar="FILE", help="present this captured identity and schema")
    q.set_defaults(func=cmd_serve)
    q = serve.add_parser("nbd", help="the reference NBD server (unix socket or 127.0.0.1:PORT)")
    where = q.add_mutually_exclusive_group(required=True)
    where.add_argument("--socket", metavar="PATH")
    where.add_argument("--port", type=int, metavar="N", help="TCP port on 127.0.0.1 only")
    q.add_argument("--read-only", action="store_true")
    q.add_argument("--export", default="", metavar="NAME", help="export name (default: empty)")
    q.add_argument("backing", metavar="FILE | memory:SIZE")
    q.set_defaults(func=cmd_serve_nbd)

    p = sub.add_parser("capture", help="record a real binary's greeting, version, commands and schema")
    impl_path(p)
    p.add_argument("--impl", required=True, metavar="NAME")
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p.add_argument(
        "--int-types", action="store_true", help="also probe each integer member's C type (int-types/FILE)"
    )
    p.add_argument(
        "--int-types-only",
        action="store_true",
        help="probe only the C types, for the existing snapshot FILE (its schema must be the binary's)",
    )
    p.set_defaults(func=cmd_capture)

    p = sub.add_parser("images", help="build (or reuse) the container images of other Debian releases")
    p.add_argument("action", choices=["build"])
    p.add_argument("--suite", action="append", help="bullseye, bookworm, trixie or sid (default: all)")
    p.set_defaults(func=cmd_images)

    p = sub.add_parser("fuzz", help="run or resume a fuzz campaign")
    p.add_argument(
        "--target",
        default="qmp-monitor",
        help="qmp-monitor, qmp-differential, keyval-blockdev, qapi-schema, nbd-server",
    )
    p.add_argument("--impl", help="qmp-differential: an isolated implementation (default qsd@bookworm)")
    p.add_argument("--dir", required=True, help="campaign folder (corpus, findings); reuse it to resume")
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("libfuzzer", nargs="*", help="extra libFuzzer options, after --")
    p.set_defaults(func=cmd_fuzz)

    p = sub.add_parser("promote", help="turn a fuzz finding into a regression case")
    p.add_argument("finding", help="a file from the campaign's findings/")
    p.add_argument("--id", required=True, help="the new case's id ([a-z0-9-]+)")
    p.add_argument("--description", required=True)
    p.set_defaults(func=cmd_promote)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except QconformError as err:
        print(f"qconform: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qconform: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (qconform impls | head): nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
