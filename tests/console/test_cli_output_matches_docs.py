"""What the CLI prints agrees with the README and with itself: the ``status --json``
example has the real keys, order and types (priorities are floats); one wording for an
injection; piped output is never wrapped; a negative id is refused with the reason."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jobsched.console.reports import injected_message

from tests.console.cli_support import Cli, make_cli, one_line_error

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


def readme_status_example() -> dict[str, object]:
    """The README's ``status --json`` example, up to its ``...``: key -> parsed value."""
    text = README.read_text(encoding="utf-8")
    block = text.split("$ jobsched status --json | python -m json.tool\n", 1)[1]
    block = block.split("...", 1)[0]
    category = block.split('"categories": [', 1)[1]
    top = block.split('"categories": [', 1)[0]
    pairs = re.findall(r'^\s*"(\w+)": (.+?),?$', top + category, flags=re.M)
    return {key: json.loads(value) for key, value in pairs}


def test_the_readme_status_example_has_the_real_keys_order_and_types(cli: Cli) -> None:
    # Given: a category whose TOML priority is the integer 1
    real = cli.json("status")
    example = readme_status_example()
    real_pairs = [(k, v) for k, v in real.items() if k != "categories"]
    real_pairs += list(real["categories"][0].items())
    real_pairs = [(k, v) for k, v in real_pairs if k in example or not example]
    # Then: the example's keys come in the real order, each with the real type
    names = list(example)
    assert [k for k, _ in real_pairs][: len(names)] == names
    for key, value in real_pairs[: len(names)]:
        assert type(value) is type(example[key]) or value is None or example[key] is None, key
    assert all(isinstance(c["priority"], float) for c in real["categories"])


def test_inject_says_tasks_in_the_cli_and_the_console_alike(cli: Cli) -> None:
    result = cli("inject", "a")
    assert result.exit_code == 0, result.stderr
    assert (
        result.stdout.strip()
        == injected_message("a", [1])
        == ("injected 1 synthetic task into a: id 1")
    )


def test_show_piped_never_wraps_a_long_result(cli: Cli) -> None:
    long = "x" * 300
    submitted = cli("submit", "b.echo", "--payload", json.dumps({"text": long}))
    assert submitted.exit_code == 0, submitted.stderr
    shown = cli("show", submitted.stdout.strip())
    assert shown.exit_code == 0, shown.stderr
    payload = next(line for line in shown.stdout.splitlines() if "payload:" in line)
    assert json.loads(payload.split("payload: ", 1)[1]) == {"text": long}


@pytest.mark.parametrize("command", ["show", "result", "cancel", "retry"])
def test_a_negative_id_is_refused_with_the_reason(cli: Cli, command: str) -> None:
    one_line_error(cli(command, "-1"), 2, "no task -1: ids are positive")
