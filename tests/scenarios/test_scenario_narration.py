"""The commentary machinery: bilingual texts, wrapping, remarks, placement in the ladder."""

# Chinese text uses full-width punctuation on purpose:
# ruff: noqa: RUF001

from __future__ import annotations

import pytest

from synack.scenarios import SCENARIOS, Params, run_scenario
from synack.scenarios.lab import Observation, Remark
from synack.scenarios.narrate import Step, apply_remarks, narrate
from synack.scenarios.output import interleave
from synack.scenarios.text import T, display_width, host_name, wrap
from synack.trace.ladder import render_ladder


def test_text_picks_the_language_and_fills_placeholders() -> None:
    text = T("{who} sends SYN", "{who}发送 SYN")
    assert text("en", who="the client") == "The client sends SYN"  # a sentence starts
    assert text("zh", who="客户端") == "客户端发送 SYN"
    assert T("close(): done", "close()：完成")("en") == "close(): done"  # calls keep their case
    with pytest.raises(ValueError, match="language"):
        text("de", who="x")
    partly = T("{who} on port {port}", "{who} 在端口 {port}").filled(port=80)
    assert partly("en", who="the server") == "The server on port 80"
    assert host_name("client", "zh") == "客户端" and host_name("other", "en") == "other"


def test_wrap_by_display_width() -> None:
    english = wrap("the quick brown fox jumps over the lazy dog " * 3, 30, indent="  ")
    assert all(len(line) <= 30 for line in english)
    assert all(line.startswith("  ") for line in english[1:])
    chinese = wrap(
        "服务器回复 SYN,ACK：带上自己的 ISN（seq=0，ISN 3516928863），表示 SYN 已收到。" * 2, 40
    )
    assert all(display_width(line) <= 40 for line in chinese)
    assert not any(line.startswith(("，", "。", "）", "：")) for line in chinese)
    assert "".join(chinese).replace(" ", "") == (
        "服务器回复 SYN,ACK：带上自己的 ISN（seq=0，ISN 3516928863），表示 SYN 已收到。" * 2
    ).replace(" ", "")
    assert display_width("ab中文") == 6


def test_every_step_of_every_scenario_has_text_in_both_languages() -> None:
    for name, scenario in SCENARIOS.items():
        for part in run_scenario(scenario).parts:
            english = narrate(part, "en", quiet_after=part.quiet_after)
            chinese = narrate(part, "zh", quiet_after=part.quiet_after)
            assert [s.kind for s in english] == [s.kind for s in chinese], name
            assert all(step.text and "{" not in step.text for step in english + chinese), name
            assert [s.time for s in english] == sorted(s.time for s in english), name


def test_commentary_names_the_numbers_of_the_trace() -> None:
    (part,) = run_scenario(SCENARIOS["handshake"]).parts
    steps = narrate(part, "en")
    syn = next(step for step in steps if step.kind == "syn")
    isn = next(r for r in part.sim.records("client") if hasattr(r, "segment")).segment.seq  # type: ignore[attr-defined]
    assert f"ISN {isn}" in syn.text and "seq=0" in syn.text and syn.time == 0
    synack = next(step for step in steps if step.kind == "synack")
    assert "ack=1" in synack.text and synack.host == "server"
    absolute = next(step for step in narrate(part, "en", relative=False) if step.kind == "syn")
    assert f"seq={isn}" in absolute.text


def test_remarks_replace_follow_and_select() -> None:
    steps = [
        Step(0, 1, "syn", "client", {"who": "the client", "seq": 0}, "generic"),
        Step(5, 2, "ack", "server", {"who": "the server", "ack": 1}, "ack one"),
        Step(9, 3, "ack", "server", {"who": "the server", "ack": 7}, "ack two"),
    ]
    remarks = [
        Remark("syn", T("{who} opens with seq={seq}", "{who}以 seq={seq} 打开")),
        Remark("syn", T("and more", "还有"), after=True),
        Remark("ack", T("second ack={ack}", "第二个 ack={ack}"), host="server", nth=2),
        Remark("ack", T("where", "where"), where=lambda params: params["ack"] == 7, after=True),
        Remark("ack", T("nobody", "nobody"), host="client"),
    ]
    result = apply_remarks([Step(**vars_of(s)) for s in steps], remarks, "en")
    assert [s.text for s in result] == [
        "The client opens with seq=0",
        "And more",
        "ack one",
        "Second ack=7",
        "Where",
    ]


def vars_of(step: Step) -> dict[str, object]:
    return {name: getattr(step, name) for name in Step.__slots__}  # type: ignore[attr-defined]


def test_commentary_goes_after_the_rows_of_its_time() -> None:
    (part,) = run_scenario(SCENARIOS["handshake"]).parts
    ladder = render_ladder(part.trace, "client", "server")
    steps = [
        Step(0, 1, "x", "client", {}, "at zero"),
        Step(10_000, 2, "x", "server", {}, "at ten"),
        Step(15_000, 3, "x", "server", {}, "between rows"),
    ]
    lines = interleave(ladder, steps, 100)
    index = {
        text: next(i for i, line in enumerate(lines) if text in line)
        for text in ("at zero", "at ten", "between rows")
    }
    ten = next(i for i, line in enumerate(lines) if line.lstrip().startswith("10.000"))
    twenty = next(i for i, line in enumerate(lines) if line.lstrip().startswith("20.000"))
    assert index["at zero"] < ten < index["at ten"] < index["between rows"] < twenty
    assert lines[index["between rows"]].lstrip().startswith("15.000")  # a time of its own
    assert len(lines) == len(ladder.splitlines()) + 3


def test_observations_become_steps() -> None:
    (part,) = run_scenario(SCENARIOS["refused"]).parts
    assert any(isinstance(o, Observation) for o in part.observations)
    app = [s for s in narrate(part, "zh") if s.kind == "app"]
    assert len(app) == 1 and "ECONNREFUSED" in app[0].text


def test_quiet_after_keeps_the_interesting_steps() -> None:
    (part,) = run_scenario(SCENARIOS["lossy-transfer"]).parts
    everything = narrate(part, "en", quiet_after=0)
    quiet = narrate(part, "en", quiet_after=1)
    assert len(quiet) < len(everything) / 2
    kinds = [s.kind for s in quiet]
    for kind in ("data-rtx-fast", "data-rtx-rto", "data-rtx-backoff", "ack-recovered"):
        assert kind in kinds
    assert kinds.count("dupack") == 3 and kinds.count("data") == 3  # the first, the two lost


def test_commentary_survives_loss() -> None:
    for name, scenario in SCENARIOS.items():
        result = run_scenario(scenario, Params(seed=3, loss=0.25))
        for part in result.parts:
            assert narrate(part, "zh"), name
