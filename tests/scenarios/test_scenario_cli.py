"""`synack demo --list`, `synack demo NAME` and their flags."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from synack.cli import main
from synack.scenarios import SCENARIOS
from synack.trace.pcapng import read_pcapng


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--list"]) == 0
    out = capsys.readouterr().out
    for name, scenario in SCENARIOS.items():
        assert f"  {name}" in out and scenario.summary("en") in out
    assert main(["demo", "--list", "--lang", "zh"]) == 0
    assert "经典的 TCP 问题" in capsys.readouterr().out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_run_a_scenario(lang: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "why-three", "--lang", lang, "--width", "120"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("why-three: ")
    assert out.count("time(ms)") == 2
    assert "teaching_two_way_handshake" in out


def test_formats_to_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg = tmp_path / "close.svg"
    assert main(["demo", "close", "--format", "svg", "--out", str(svg)]) == 0
    ET.parse(svg)
    assert f"to {svg}" in capsys.readouterr().out
    assert main(["demo", "close", "--format", "mermaid"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("sequenceDiagram\n") and captured.err == ""
    assert main(["demo", "half-close", "--format", "html", "--lang", "zh"]) == 0
    assert '<html lang="zh-Hans">' in capsys.readouterr().out


def test_seed_loss_delay_and_absolute(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "handshake", "--delay", "25"]) == 0
    assert "25.000 ─▶" in capsys.readouterr().out
    assert main(["demo", "handshake", "--absolute"]) == 0
    assert "seq=0 " not in capsys.readouterr().out
    main(["demo", "lossy-transfer", "--seed", "7", "--loss", "0.2"])
    assert "lossy-transfer" in capsys.readouterr().out


def test_pcap_per_part(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = tmp_path / "refused.pcapng"
    assert main(["demo", "refused", "--pcap", str(one)]) == 0
    assert len(read_pcapng(one.read_bytes())) == 2  # SYN and RST,ACK
    two = tmp_path / "tw.pcap"
    assert main(["demo", "time-wait", "--pcap", str(two)]) == 0
    out = capsys.readouterr().out
    for index in (1, 2):
        path = tmp_path / f"tw-{index}.pcap"
        assert path.exists() and f"to {path}" in out
    assert not two.exists()


def test_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "no-such-thing"]) == 2
    assert "synack demo --list" in capsys.readouterr().err
    assert main(["demo", "--lang", "zh"]) == 2  # --lang is for scenarios
    assert "scenarios" in capsys.readouterr().err
    assert main(["demo", "handshake", "--kernel"]) == 2


def test_a_run_that_hides_the_point_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    # Heavy loss can keep a scenario from showing its point; the run says so.
    codes = {
        main(["demo", "simultaneous-close", "--loss", "0.9", "--seed", str(seed)])
        for seed in range(1, 6)
    }
    assert 1 in codes
    assert "did not show" in capsys.readouterr().err
