"""Moving data under loss: ``lossy-transfer``."""

# Chinese text uses full-width punctuation on purpose:
# ruff: noqa: RUF001

from __future__ import annotations

from synack.net.link import drop_where
from synack.scenarios.closing import drain
from synack.scenarios.lab import Fact, Lab, Params, Part, Remark, Scenario
from synack.scenarios.text import T
from synack.tcp.connection import Connection
from synack.tcp.events import Established, Event, PeerFinished, Readable
from synack.tcp.stack import Listener
from synack.tcp.state import State
from synack.trace.records import SegmentSent, TimerFired
from synack.trace.summary import PacketHeaders
from synack.wire.tcp import TcpFlags

MASK = 0xFFFFFFFF
TOTAL = 30_000
DATA = bytes((index * 7 + 3) & 0xFF for index in range(TOTAL))
LOST_SEGMENT = 4  # the 4th data segment is lost once: fast retransmit
LAST_LOSSES = 2  # the last data segment is lost this many times: RTO, then a backed-off RTO
REPLY = b"OK\n"


class ScriptedLosses:
    """Drops the ``LOST_SEGMENT``-th data segment the first time it is sent, and the
    segment ending the transfer the first ``LAST_LOSSES`` times (offsets are counted
    from the ISN of the SYN the filter saw, so they do not depend on the MSS)."""

    def __init__(self) -> None:
        self.isn: int | None = None
        self.first_sight: list[int] = []  # data offsets in the order first sent
        self.sent: dict[int, int] = {}

    def __call__(self, headers: PacketHeaders) -> bool:
        tcp = headers.tcp
        if tcp is None:
            return False
        if tcp.flags & TcpFlags.SYN:
            self.isn = tcp.seq
            return False
        if self.isn is None or not tcp.payload_length:
            return False
        offset = (tcp.seq - self.isn - 1) & MASK
        times = self.sent.get(offset, 0)
        self.sent[offset] = times + 1
        if times == 0:
            self.first_sight.append(offset)
            if len(self.first_sight) == LOST_SEGMENT:
                return True
        return offset + tcp.payload_length == TOTAL and times < LAST_LOSSES


LOSSY_TRANSFER = Scenario(
    name="lossy-transfer",
    title=T(
        "A transfer under loss: fast retransmit and retransmission timeouts",
        "有丢包的传输：快速重传与超时重传",
    ),
    summary=T(
        "30 KB with scripted losses: fast retransmit after 3 duplicate ACKs, a timeout that "
        "backs off",
        "30 KB 数据与设定好的丢包：3 个重复 ACK 后快速重传，超时重传并指数退避",
    ),
    intro=T(
        "TCP finds lost segments in two ways. While later segments still arrive, the receiver "
        "repeats its ACK for the first missing byte; three duplicate ACKs make the sender "
        "resend it at once (fast retransmit, RFC 5681 3.2). When nothing comes back, only the "
        "retransmission timer is left: it fires after the RTO (RFC 6298; at least 200 ms on "
        "Linux), and each time it fires again for the same data the RTO doubles (exponential "
        "backoff). Here the client uploads 30000 bytes; the network loses the 4th data segment "
        "once and the last one twice.",
        "TCP 用两种方式发现丢失的报文段。只要后面的报文段还在到达，接收方就不断重复对第一个"
        "缺失字节的确认；三个重复 ACK 让发送方立即重传（快速重传，RFC 5681 3.2）。"
        "如果什么都没有返回，就只剩下重传定时器：它在 RTO 之后到期（RFC 6298；Linux 上至少 "
        "200 ms），对同一数据每再到期一次，RTO 就加倍（指数退避）。这里客户端上传 30000 字节；"
        "网络丢掉第 4 个数据报文段一次，最后一个数据报文段两次。",
    ),
    run=lambda params: [_lossy_transfer(params)],
)


def _lossy_transfer(params: Params) -> Part:
    lab = Lab(params)
    lab.listen("server")
    lab.link(forward_drop=drop_where(ScriptedLosses()))
    received = bytearray()

    def client(conn: Connection | Listener, event: Event) -> None:
        if not isinstance(conn, Connection):
            return
        if isinstance(event, Established):
            conn.send(DATA, lab.now)
        elif isinstance(event, Readable | PeerFinished):
            ended = drain(conn)
            if ended and isinstance(event, PeerFinished):
                conn.close(lab.now)

    def server(conn: Connection | Listener, event: Event) -> None:
        if isinstance(conn, Connection) and isinstance(event, Readable):
            drain(conn, received)
            if len(received) == TOTAL and conn.state is State.ESTABLISHED:
                conn.send(REPLY, lab.now)
                conn.close(lab.now)

    lab.on("client", client)
    lab.on("server", server)
    lab.connect("client")
    lab.run()
    sent = lab.sent("client")
    rto_times = {r.time for r in lab.sim.records("client", kind=TimerFired) if r.timer == "RTO"}
    timeouts, fast = _retransmissions(sent, rto_times)
    return lab.part(
        T(
            "the client uploads {total} bytes; the network drops three segments",
            "客户端上传 {total} 字节；网络丢掉了三个报文段",
        ).filled(total=TOTAL),
        T(
            "The drops are scripted (the 4th data segment; the last data segment and its first "
            "retransmission), so both recoveries show whatever the seed; --loss adds random "
            "loss on top. Ordinary data segments and ACKs are commented once.",
            "丢包是预先设定的（第 4 个数据报文段；最后一个数据报文段及其第一次重传），"
            "所以不论种子如何都能看到两种恢复方式；--loss 会在此之上再加随机丢包。"
            "普通的数据报文段和 ACK 只解说一次。",
        ),
        remarks=[
            Remark(
                "data-rtx-fast",
                T(
                    "The duplicate ACKs' SACK blocks (RFC 2018) tell the client what arrived "
                    "beyond the hole, so it resends only the missing segment.",
                    "重复 ACK 中的 SACK 块（RFC 2018）告诉客户端空洞之后哪些数据已经到达，"
                    "所以它只重传缺失的那个报文段。",
                ),
                host="client",
                after=True,
            ),
            Remark(
                "data-rtx-rto",
                T(
                    "That was the last segment: nothing followed it, so no duplicate ACK could "
                    "come back. Only the timer could detect this loss.",
                    "那是最后一个报文段：后面没有别的报文段，所以不会有重复 ACK 返回。"
                    "只有定时器能发现这次丢包。",
                ),
                host="client",
                after=True,
            ),
            Remark(
                "data-rtx-backoff",
                T(
                    "The first retransmission was lost too. Backing off keeps a sender from "
                    "flooding a network that may be congested.",
                    "第一次重传也丢了。退避可以避免发送方向可能已经拥塞的网络灌入更多数据。",
                ),
                host="client",
                after=True,
            ),
        ],
        facts=[
            Fact(
                any(len(gaps) >= 2 and gaps[-1] > gaps[-2] for gaps in timeouts.values()),
                T(
                    "A retransmission timeout, then another for the same data after a longer "
                    "wait (exponential backoff).",
                    "发生了一次超时重传，之后同一数据又在更长的等待后再次超时（指数退避）。",
                ),
            ),
            Fact(
                fast > 0,
                T(
                    "A fast retransmit after duplicate ACKs, with no timeout.",
                    "发生了一次由重复 ACK 触发、没有等待超时的快速重传。",
                ),
            ),
            Fact(
                bytes(received) == DATA
                and not lab.stacks["client"].connections
                and not lab.stacks["server"].connections,
                T(
                    "All {total} bytes arrived once and in order, and both ends reached CLOSED.",
                    "全部 {total} 字节按顺序且只交付一次，双方最终都进入 CLOSED。",
                ).filled(total=TOTAL),
            ),
        ],
        quiet_after=1,
    )


def _retransmissions(
    sent: list[SegmentSent], rto_times: set[int]
) -> tuple[dict[int, list[int]], int]:
    """For each data segment retransmitted on a timeout, the waits between its
    transmissions; and the number of data retransmissions made with no timeout."""
    last: dict[int, int] = {}
    waits: dict[int, list[int]] = {}
    fast = 0
    for record in sent:
        segment = record.segment
        if not segment.payload:
            continue
        if record.retransmission:
            if record.time in rto_times:
                waits.setdefault(segment.seq, []).append(record.time - last.get(segment.seq, 0))
            else:
                fast += 1
        last[segment.seq] = record.time
    return waits, fast


SCENARIOS = [LOSSY_TRANSFER]
