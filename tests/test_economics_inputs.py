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


def test_price_rows_carry_the_publication_date_and_stale_ones_are_warned_about():
    from datetime import date

    from deployscope.catalog import default_catalog
    from deployscope.catalog.prices import price_age_warnings

    cat = default_catalog()
    hgx = cat.servers.get("hgx-h100-8gpu")
    assert hgx.price_as_of == date(2025, 1, 31) != hgx.as_of  # the price's date, apart from the date it was read
    w = price_age_warnings([hgx], "servers", stale_after=180, today=date(2026, 12, 3))
    assert w == [("servers hgx-h100-8gpu: price published 2025-01-31 (older than 180 days); "
                 "refresh it or give your own figure")]
    assert price_age_warnings([hgx], "servers", stale_after=180, today=date(2025, 3, 1)) == []
    a100 = cat.servers.get("hgx-a100-8gpu")  # no 2026 system price was found: the 2025 one is flagged
    assert a100.price_as_of == date(2025, 3, 4) and price_age_warnings([a100], "servers", 180, date(2026, 12, 3))
    eur = cat.fx_rates.get("EUR")
    assert eur.price_as_of is not None and price_age_warnings([eur], "fx_rates", 180, date(2026, 12, 3))
    # API rows are dated by the LiteLLM release their prices come from
    api = next(iter(cat.api_prices))
    assert api.price_as_of == date(2026, 11, 20) and price_age_warnings([api], "api_prices", 180, date(2026, 12, 3)) == []
    # a row whose publication date is unknown says so (an undated SkyPilot snapshot)
    cloud = cat.cloud_instances.get("aws-p5.48xlarge-us-east-1")
    assert cloud.price_as_of is None and cloud.price_as_of_note
    assert "publication date unknown" in price_age_warnings([cloud], "cloud_instances", 180, date(2026, 12, 3))[0]


def test_a_peak_to_average_the_shape_cannot_reach_exits_2_naming_the_range(tmp_path, capsys):
    from deployscope.cli import main

    data = yaml.safe_load((ROOT / "examples" / "saas-chat.yaml").read_text())
    data["load_profile"]["peak_to_average"] = 20
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(data))
    assert main(["plan", str(p), "--json"]) == 2
    err = capsys.readouterr().err
    # business hours (weekdays 08-18, 10 % at night) reach at most 1 + 1.718 / 0.728 = 3.36
    assert "load_profile.peak_to_average" in err and "20" in err and "1 to 3.36" in err
    data["load_profile"]["peak_to_average"] = 3.3
    p.write_text(yaml.safe_dump(data))
    assert main(["plan", str(p), "--json"]) == 0
