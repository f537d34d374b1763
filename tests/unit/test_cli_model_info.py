import json

from typer.testing import CliRunner

from tcan_live import __version__
from tcan_live.cli.main import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_model_info_json_reports_branches_and_flops() -> None:
    result = runner.invoke(app, ["model-info", "small", "--json", "--tile", "64"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    parameters = report["parameters"]
    assert set(parameters) == {"stem", "unet", "dfcan", "head", "total"}
    assert 600_000 <= parameters["total"] <= 1_000_000
    assert 1e5 < report["flops_per_input_pixel"] < 1e6


def test_model_info_table_and_bad_preset() -> None:
    result = runner.invoke(app, ["model-info", "dfcan", "--scale", "2", "--tile", "64"])
    assert result.exit_code == 0, result.output
    assert "dfcan" in result.output and "total" in result.output
    bad = runner.invoke(app, ["model-info", "huge"])
    assert bad.exit_code != 0
    assert "unknown preset 'huge'" in bad.output
