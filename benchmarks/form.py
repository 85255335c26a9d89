"""CPU time of the guided scenario editor's page, in-process: the `scenario init` template, the
form built from it (labels, units, ranges, defaults) and the HTML rendered from the form.

    python benchmarks/form.py [--pages 50]

It measures process CPU time, not wall time, so other work on the machine moves it less than the
served-page latencies of benchmarks/web.py.
"""

from __future__ import annotations

import argparse
import statistics
import time


def render_once() -> str:
    from deployscope.scenario import template
    from deployscope.web.pages.scenarios import _build_form_context
    from deployscope.web.rendering import templates

    text = template()
    ctx = _build_form_context(text, None)  # not the served cache: what a changed text costs
    return templates().env.get_template("scenario_form.html").render(
        request=None, yaml_text=text, scenario_id=None, error=None, error_text="", error_matched=False, message=None,
        pickers=ctx["pickers"], fields_html=ctx["fields_html"], csrf_field="csrf_token", csrf_token="t",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=50)
    args = ap.parse_args()
    for _ in range(3):
        render_once()  # catalog, templates and caches warm
    times = []
    for _ in range(args.pages):
        t0 = time.process_time()
        html = render_once()
        times.append((time.process_time() - t0) * 1000)
    times.sort()
    print(f"scenario form page: {len(html) // 1024} KiB, CPU p50 {statistics.median(times):.1f} ms, "
          f"p95 {times[int(0.95 * len(times)) - 1]:.1f} ms over {args.pages} pages")


if __name__ == "__main__":
    main()
