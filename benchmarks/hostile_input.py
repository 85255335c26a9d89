"""How fast the safe loader refuses hostile bodies, next to an ordinary scenario.

    python benchmarks/hostile_input.py

Prints the median time of `safe_yaml.load` over 20 runs for: the saas-chat example, a 5- and a
9-level billion-laughs body, 600 nested `[` (YAML and JSON), 100,000 nested JSON objects, and a
Latin-1 file.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from deployscope import safe_yaml

ROOT = Path(__file__).resolve().parents[1]


def laughs(levels: int) -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for name in "bcdefghijk"[:levels]:
        text += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
        prev = name
    return text


CASES: list[tuple[str, str | bytes, str]] = [
    ("saas-chat example (accepted)", (ROOT / "examples" / "saas-chat.yaml").read_text(encoding="utf-8"), "yaml"),
    ("billion laughs, 5 levels", laughs(5), "yaml"),
    ("billion laughs, 9 levels", laughs(9), "yaml"),
    ("600 nested [ (YAML)", "[" * 600 + "]" * 600, "yaml"),
    ("600 nested [ (JSON)", "[" * 600 + "]" * 600, "json"),
    ("100,000 nested JSON objects", '{"a":' * 100_000 + "1" + "}" * 100_000, "json"),
    ("Latin-1 scenario", (ROOT / "examples" / "saas-chat.yaml").read_text(encoding="utf-8").replace("name: ", "name: é", 1).encode("latin-1"), "yaml"),
]


def main() -> None:
    for label, body, fmt in CASES:
        times, outcome = [], ""
        for _ in range(20):
            t = time.perf_counter()
            try:
                safe_yaml.load(body, source="bench", format=fmt)  # type: ignore[arg-type]
                outcome = "accepted"
            except safe_yaml.UnsafeInput as exc:
                outcome = "refused: " + str(exc).split(": ", 1)[-1][:60]
            times.append(time.perf_counter() - t)
        print(f"{label:32s} {statistics.median(times) * 1e3:9.3f} ms  {len(body):>9,} bytes  {outcome}")


if __name__ == "__main__":
    main()
