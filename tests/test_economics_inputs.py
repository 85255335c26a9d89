"""Economic inputs honoured or refused at the scenario edge."""

from __future__ import annotations

from pathlib import Path

import yaml

from deployscope.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def test_documented_currency_form_with_an_unquoted_yaml_date(tmp_path):
    data = yaml.safe_load((ROOT / "examples" / "saas-chat.yaml").read_text())
    text = yaml.safe_dump(data).replace("currency: USD", "currency: {code: EUR, per_usd: 0.92, as_of: 2025-06-30}")
    p = tmp_path / "s.yaml"
    p.write_text(text)
    scn = load_scenario(p)
    assert scn.currency.code == "EUR" and scn.currency.per_usd == 0.92
    assert scn.currency.as_of == "2025-06-30"
