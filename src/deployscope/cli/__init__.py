"""The `deployscope` command line. Each command group lives in its own module and registers itself
here; heavy libraries are imported inside commands so that start-up stays fast."""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from ..errors import DeployscopeError

app = typer.Typer(
    name="deployscope",
    help="Plan how to run generative AI on your own terms: will it fit, how fast, how many GPUs, "
    "what it costs, what the rules allow, and why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
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
    memory_cmd,
    perf_cmd,
    plan_cmd,
    prices_cmd,
    serve_cmd,
    store_cmd,
    workload_cmd,
)

for _module in (catalog_cmd, memory_cmd, perf_cmd, workload_cmd, plan_cmd, prices_cmd, store_cmd, serve_cmd, bench_cmd):
    _module.register(app)
from . import sweep_cmd; sweep_cmd.register(app)  # noqa: E402,E702  (issue 8: design-space sweeps)
from . import export_cmd, verify_cmd; export_cmd.register(app); verify_cmd.register(app)  # noqa: E402,E702  (issue 16: export and verify)


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
        app(args=argv, standalone_mode=False)
    except DeployscopeError as exc:
        from .output import print_error

        print_error(exc)
        return exc.exit_code
    except SystemExit as exc:  # typer/click exits (help, usage errors)
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # click usage errors and friends
        import click

        # typer >= 0.20 vendors its own click (typer._click): match both by class name
        names = {c.__name__ for c in type(exc).__mro__}
        if isinstance(exc, click.exceptions.ClickException) or "ClickException" in names:
            exc.show()  # type: ignore[attr-defined]
            return int(getattr(exc, "exit_code", 2))
        if isinstance(exc, click.exceptions.Abort) or "Abort" in names:
            return 1
        raise
    return 0


def run() -> None:
    sys.exit(main())
