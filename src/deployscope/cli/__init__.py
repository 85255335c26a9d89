"""The `deployscope` command line. Each command group lives in its own module and registers itself
here; heavy libraries are imported inside commands so that start-up stays fast."""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from ..errors import DeployscopeError
from .output import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

app = typer.Typer(
    name="deployscope",
    help="Plan how to run generative AI on your own terms: will it fit, how fast, how many GPUs, "
    "what it costs, what the rules allow, and why.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"deployscope {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
    ),
    catalog: Optional[str] = typer.Option(
        None,
        "--catalog",
        metavar="DIR",
        help="User catalog directory merged over the bundled catalog (also $DEPLOYSCOPE_CATALOG).",
    ),
) -> None:
    if catalog:
        os.environ["DEPLOYSCOPE_CATALOG"] = catalog
        from ..catalog import set_default_catalog

        set_default_catalog(None)


from . import (  # noqa: E402
    bench_cmd,
    catalog_cmd,
    export_cmd,
    memory_cmd,
    perf_cmd,
    plan_cmd,
    prices_cmd,
    serve_cmd,
    store_cmd,
    sweep_cmd,
    verify_cmd,
    workload_cmd,
)

for _module in (catalog_cmd, memory_cmd, perf_cmd, workload_cmd, plan_cmd, prices_cmd, store_cmd, serve_cmd, bench_cmd, sweep_cmd, export_cmd, verify_cmd):
    _module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning input errors into a message and exit code 2.

    `--catalog DIR` applies to this call only: the caller's environment and process-wide
    catalog are put back afterwards (main() is also called in-process, from notebooks and tests).
    """
    from ..catalog import loader

    saved_env = os.environ.get("DEPLOYSCOPE_CATALOG")
    saved_catalog = loader._default
    try:
        return _main(argv)
    finally:
        if os.environ.get("DEPLOYSCOPE_CATALOG") != saved_env:
            if saved_env is None:
                os.environ.pop("DEPLOYSCOPE_CATALOG", None)
            else:
                os.environ["DEPLOYSCOPE_CATALOG"] = saved_env
            loader.set_default_catalog(saved_catalog)


def _main(argv: list[str] | None) -> int:
    try:
        returned = app(args=argv, prog_name="deployscope", standalone_mode=False)
        # typer answers some exits with a code instead of raising: Ctrl-C inside a command is 130
        if isinstance(returned, int) and not isinstance(returned, bool) and returned != EXIT_OK:
            if returned == EXIT_INTERRUPTED:
                print("interrupted", file=sys.stderr)
            return returned
    except DeployscopeError as exc:
        from .output import print_error

        print_error(exc)
        return exc.exit_code
    except SystemExit as exc:  # typer/click exits (help, usage errors)
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # usage errors and friends from click
        # Matched by class name, not imported: typer either depends on click or vendors its own
        # copy (typer._click), and the base install may have no `click` module at all.
        names = {c.__name__ for c in type(exc).__mro__}
        if "ClickException" in names:
            exc.show()  # type: ignore[attr-defined]
            return int(getattr(exc, "exit_code", EXIT_USAGE))
        if "Abort" in names:
            return EXIT_INTERRUPTED
        raise
    return EXIT_OK


def run() -> None:
    sys.exit(main())
