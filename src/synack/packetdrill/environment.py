"""Where a packetdrill script runs: addresses, flags, and the stack settings
that its shell commands (``sysctl``, ``set_sysctls.py``, defaults scripts) ask for.

synack runs no shell: it reads the commands and maps the ``net.ipv4.tcp_*``
settings it has onto ``TcpConfig``; everything else is reported and ignored.
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any

from synack.tcp.config import MS, SECOND, TcpConfig

Address = IPv4Address | IPv6Address


@dataclass(frozen=True)
class Variant:
    """An IP variant as the reference runners use them (LANGUAGE.md section 9)."""

    name: str
    family: int  # the socket family the script's socket() gets: AF_INET or AF_INET6
    local: Address
    remote: Address
    mtu: int = 1500


IPV4 = Variant("ipv4", 2, IPv4Address("192.168.0.1"), IPv4Address("192.0.2.1"))
IPV4_MAPPED = Variant("ipv4-mapped-ipv6", 10, IPv4Address("192.168.0.1"), IPv4Address("192.0.2.1"))
IPV6 = Variant(
    "ipv6", 10, IPv6Address("fd3d:a0b:17d6::1"), IPv6Address("fd3d:fa7b:d17d::1"), mtu=1520
)
VARIANTS = {v.name: v for v in (IPV4, IPV4_MAPPED, IPV6)}
VARIANT_ALIASES = {"ipv4-mapped-v6": "ipv4-mapped-ipv6", "default(ipv4)": "ipv4"}


@dataclass
class Settings:
    """Interpreter flags (``--name=value`` lines, then the command line)."""

    tolerance_usecs: int = 4000
    tolerance_percent: float = 12.5
    mss: int | None = None  # GSO size of large inbound packets
    tcp_ts_tick_usecs: int | None = None  # compare outbound TS val when set
    bind_port: int = 8080
    connect_port: int = 8080
    remote_port: int = 40_000  # the script's port for passive opens
    local_ip: str | None = None
    remote_ip: str | None = None
    mtu: int | None = None
    strict_segments: bool = False
    ignored: list[str] = field(default_factory=list)

    def apply(self, options: dict[str, str]) -> None:
        """Take ``--name=value`` flags; unknown ones are remembered as ignored."""
        for name, value in options.items():
            key = name.lstrip("-").replace("-", "_")
            if key == "tolerance_usecs":
                self.tolerance_usecs = int(value)
            elif key == "tolerance_percent":
                self.tolerance_percent = float(value)
            elif key == "mss":
                self.mss = int(value)
            elif key == "tcp_ts_tick_usecs":
                self.tcp_ts_tick_usecs = int(value)
            elif key in ("bind_port", "connect_port"):
                setattr(self, key, int(value))
            elif key in ("local_ip", "remote_ip"):
                setattr(self, key, value.strip('"'))
            elif key == "mtu":
                self.mtu = int(value)
            elif key == "strict_segments":
                self.strict_segments = True
            else:
                self.ignored.append(f"--{key}={value}" if value else f"--{key}")

    def variant(self, base: Variant) -> Variant:
        """``base`` with the addresses and MTU these flags override."""
        local = ip_address(self.local_ip) if self.local_ip else base.local
        remote = ip_address(self.remote_ip) if self.remote_ip else base.remote
        if base.name == "ipv6" and (local.version != 6 or remote.version != 6):
            local, remote = base.local, base.remote
        if base.name != "ipv6" and (local.version != 4 or remote.version != 4):
            local, remote = base.local, base.remote
        return replace(base, local=local, remote=remote, mtu=self.mtu or base.mtu)


#: The stock Linux kernel's TCP settings, as the reference runs saw them
#: before a script's own defaults script changed anything.
LINUX = TcpConfig(
    syn_retries=6,
    synack_retries=5,
    # net.ipv4.tcp_rmem = 4096 131072 6291456: sk_rcvbuf starts at 131072, so
    # a SYN offers 64240 (65536 rounded down to whole MSS), as Linux's do.
    # The send buffer keeps synack's 256 KiB: Linux grows sk_sndbuf from
    # tcp_wmem[1] = 16384 as the connection starts (tcp_sndbuf_expand), which
    # synack does not model.
    receive_buffer=131072,
)

_SYSCTL_ASSIGNMENT = re.compile(
    r"^(?:/proc/sys/)?(net[./]ipv4[./]tcp_\w+|net[./]core[./]\w+)=(.*)$"
)


@dataclass
class SysctlResult:
    """What a shell command did to the stack settings."""

    config: TcpConfig
    applied: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    drop_all_output: bool | None = None


def _flag(words: list[str]) -> Any:
    return bool(int(words[0], 0))


def _count(words: list[str]) -> Any:
    return int(words[0], 0)


def _seconds(words: list[str]) -> Any:
    return int(words[0], 0) * SECOND


def _millis(words: list[str]) -> Any:
    return int(words[0], 0) * MS


def _middle(words: list[str]) -> Any:
    return int(words[1])


def _congestion(words: list[str]) -> Any:
    name = words[0]
    if name not in ("cubic", "reno"):
        raise ValueError(name)  # not a module synack has: reported as ignored
    return name


def _last(words: list[str]) -> Any:
    return int(words[2])


Converter = Callable[[list[str]], Any]

#: net.ipv4.tcp_* sysctl -> (TcpConfig fields, a converter of the value's words for each).
SYSCTLS: dict[str, tuple[tuple[str, ...], tuple[Converter, ...]]] = {
    "tcp_timestamps": (("timestamps",), (_flag,)),
    "tcp_sack": (("sack",), (_flag,)),
    "tcp_recovery": (("recovery",), (_count,)),
    "tcp_early_retrans": (("early_retrans",), (_count,)),
    "tcp_reordering": (("reordering",), (_count,)),
    "tcp_max_reordering": (("max_reordering",), (_count,)),
    "tcp_dsack": (("dsack",), (_flag,)),
    "tcp_window_scaling": (("window_scaling",), (_flag,)),
    "tcp_syn_retries": (("syn_retries",), (_count,)),
    "tcp_synack_retries": (("synack_retries",), (_count,)),
    "tcp_retries1": (("retries1",), (_count,)),
    "tcp_retries2": (("retries2",), (_count,)),
    "tcp_fin_timeout": (("fin_wait_2_timeout",), (_seconds,)),
    "tcp_keepalive_time": (("keepalive_idle",), (_seconds,)),
    "tcp_keepalive_intvl": (("keepalive_interval",), (_seconds,)),
    "tcp_keepalive_probes": (("keepalive_probes",), (_count,)),
    "tcp_delack_min": (("delayed_ack",), (_millis,)),
    "tcp_rmem": (("receive_buffer", "window_scale_space"), (_middle, _last)),
    "tcp_wmem": (("send_buffer",), (_middle,)),
    "tcp_min_tso_segs": (("min_tso_segs",), (_count,)),
    "tcp_pacing_ss_ratio": (("pacing_ss_ratio",), (_count,)),
    "tcp_pacing_ca_ratio": (("pacing_ca_ratio",), (_count,)),
    "tcp_slow_start_after_idle": (("slow_start_after_idle",), (_flag,)),
    "tcp_congestion_control": (("congestion_control",), (_congestion,)),
    "tcp_ecn": (("ecn",), (_count,)),
}


def apply_sysctl(config: TcpConfig, name: str, value: str) -> tuple[TcpConfig, bool]:
    """Map one ``net.ipv4.tcp_*`` setting onto ``config``; False when synack has
    no such setting (the caller reports it as ignored)."""
    key = name.replace("/", ".").split(".")[-1]
    words = value.strip().strip('"').strip("'").split()
    entry = SYSCTLS.get(key)
    if entry is None or not words:
        return config, False
    fields, converters = entry
    changes: dict[str, Any] = {}
    try:
        for field_name, converter in zip(fields, converters, strict=True):
            if field_name in TcpConfig.__dataclass_fields__:
                changes[field_name] = converter(words)
    except (ValueError, IndexError):
        return config, False
    if not changes:
        return config, False
    return replace(config, **changes), True


def run_shell(command: str, config: TcpConfig, script_dir: Path, *, depth: int = 0) -> SysctlResult:
    """Interpret a script's shell command: sysctl assignments (also inside the
    defaults scripts it runs) become settings; ``tc qdisc ... limit 0`` drops
    all output; everything else is ignored and listed."""
    result = SysctlResult(config)
    for raw in _logical_lines(command):
        try:
            words = shlex.split(raw, comments=True)
        except ValueError:
            result.ignored.append(raw)
            continue
        if not words:
            continue
        words = [w for w in words if w not in (">", "2>&1", "/dev/null")]
        program = Path(words[0]).name
        if program == "sysctl":
            for word in words[1:]:
                if word.startswith("-"):
                    continue
                _assign(result, word)
        elif program == "set_sysctls.py":
            for word in words[1:]:
                _assign(result, word)
        elif program == "tc" and "qdisc" in words:
            if "limit" in words and words[words.index("limit") + 1 : words.index("limit") + 2] == [
                "0"
            ]:
                result.drop_all_output = True
                result.applied.append(raw)
            elif "del" in words or "delete" in words:
                result.drop_all_output = False
                result.applied.append(raw)
            else:
                result.ignored.append(raw)
        elif program == "ip" and len(words) > 2 and words[1] in ("route", "ro", "r"):
            advmss, mtu = _route_metrics(words[2:])
            if advmss is not None or mtu is not None:
                result.config = replace(
                    result.config,
                    route_advmss=result.config.route_advmss if advmss is None else advmss,
                    route_mtu=result.config.route_mtu if mtu is None else mtu,
                )
                result.applied.append(raw)
            else:
                result.ignored.append(raw)
        elif (words[0] in (".", "source") and len(words) > 1) or (
            program.endswith(".sh") and depth < 4
        ):
            path_word = words[1] if words[0] in (".", "source") else words[0]
            target = _find(path_word, script_dir)
            if target is None:
                result.ignored.append(raw)
                continue
            inner = run_shell(target.read_text(), result.config, target.parent, depth=depth + 1)
            result.config = inner.config
            result.applied += inner.applied
            result.ignored += inner.ignored
            if inner.drop_all_output is not None:
                result.drop_all_output = inner.drop_all_output
        else:
            result.ignored.append(raw)
    return result


def _route_metrics(words: list[str]) -> tuple[int | None, int | None]:
    """``ip route change|replace|add ... [advmss N] [mtu [lock] N]``: the route
    metrics synack has (TcpConfig.route_advmss, route_mtu), None where absent."""
    found: dict[str, int] = {}
    if words and words[0] in ("change", "replace", "add", "append"):
        for index, word in enumerate(words[:-1]):
            following = words[index + 1 :]
            if following[0] == "lock" and len(following) > 1:
                following = following[1:]
            if word in ("advmss", "mtu") and following[0].isdigit():
                found[word] = int(following[0])
    return found.get("advmss"), found.get("mtu")


def _assign(result: SysctlResult, word: str) -> None:
    match = _SYSCTL_ASSIGNMENT.match(word)
    if match is None:
        result.ignored.append(word)
        return
    config, known = apply_sysctl(result.config, match.group(1), match.group(2))
    result.config = config
    (result.applied if known else result.ignored).append(word)


_ARITHMETIC = re.compile(r"\$\(\(([0-9+\-*/ ()]+)\)\)")


def _expand_arithmetic(text: str) -> str:
    """Shell arithmetic expansion ``$((15*1024*1024))`` for plain integer
    expressions (digits, + - * / and parentheses only; nothing is executed)."""

    def value(match: re.Match[str]) -> str:
        try:
            tree = ast.parse(match.group(1), mode="eval")
        except SyntaxError:
            return match.group(0)
        return str(_arith(tree.body)) if _arith(tree.body) is not None else match.group(0)

    return _ARITHMETIC.sub(value, text)


def _arith(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp):
        left, right = _arith(node.left), _arith(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div | ast.FloorDiv) and right:
            return left // right
    return None


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip() and not current.strip().startswith("#"):
            lines.append(_expand_arithmetic(current.strip()))
        current = ""
    return lines


def _find(word: str, script_dir: Path) -> Path | None:
    """A script path as the reference runners would resolve it: from the
    script's directory or one of its ancestors (the ligurio runner's cwd is
    its repository root)."""
    word = word.replace("${PPID}", "0").replace("$PPID", "0")
    for base in (script_dir, *script_dir.parents):
        candidate = base / word
        if candidate.is_file():
            return candidate
    return None


def variants_for(script: Path) -> list[str]:
    """The variants a script's source runner uses: from a MANIFEST.tsv in an
    ancestor folder when it lists the script, else by the file name (google's
    ``*v4.pkt``/``*v6.pkt`` rule), else IPv4 only."""
    for base in script.resolve().parents:
        manifest = base / "MANIFEST.tsv"
        if manifest.is_file():
            relative = script.resolve().relative_to(base).as_posix()
            for line in manifest.read_text().splitlines()[1:]:
                cells = line.split("\t")
                if cells and cells[0] == relative and len(cells) >= 7:
                    names = [VARIANT_ALIASES.get(v.strip(), v.strip()) for v in cells[6].split(",")]
                    return [n for n in names if n in VARIANTS] or ["ipv4"]
            break
    if script.name.endswith("v6.pkt"):
        return ["ipv6"]
    return ["ipv4"]
