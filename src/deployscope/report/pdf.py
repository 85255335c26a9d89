"""PDF report through WeasyPrint (Pango), from the HTML report with its SVG charts.

WeasyPrint runs no JavaScript, which is why the charts are SVG drawn by ``charts.py``. The URL
fetcher refuses every URL, so rendering never touches the network whatever the plan holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DeployscopeError
from .html import render_html


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> Any:
    raise ValueError(f"the PDF renderer loads nothing from outside (refused {url[:80]!r})")


def pdf_bytes(plan: Any) -> bytes:
    try:
        import logging

        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: Pango libraries missing
        raise DeployscopeError(
            f"PDF reports need WeasyPrint and the Pango libraries ({exc}): pip install '.[report]' in the Deployscope checkout "
            "and, on Debian, apt-get install libpango-1.0-0 libpangoft2-1.0-0",
            field="report",
        ) from None
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    html = render_html(plan, for_pdf=True)
    return HTML(string=html, base_url=None, url_fetcher=_no_fetch).write_pdf()


def write_pdf(plan: Any, path: str | Path) -> None:
    Path(path).write_bytes(pdf_bytes(plan))
