"""The states that wait: ``time-wait`` (why the active closer waits 2*MSL) and
``close-wait-leak`` (an application that never closes)."""

# Chinese text uses full-width punctuation on purpose:
# ruff: noqa: RUF001

from __future__ import annotations

from synack.net.link import drop_where
from synack.scenarios.closing import (
    CLOSE_AFTER,
    REQUEST,
    acks_of,
    close_after,
    close_on_end,
    drain,
    fin_of,
)
from synack.scenarios.lab import Fact, Lab, Params, Part, Remark, Scenario
from synack.scenarios.text import T
from synack.tcp.config import MS, TcpConfig
from synack.tcp.connection import Connection
from synack.tcp.events import Established, Event, Readable
from synack.tcp.stack import Listener
from synack.tcp.state import State
from synack.trace.records import StateChanged, TimerFired
from synack.trace.summary import PacketHeaders
from synack.wire.tcp import TcpFlags

S = State
FIN, ACK, RST = TcpFlags.FIN, TcpFlags.ACK, TcpFlags.RST


# --- time-wait --------------------------------------------------------------------------------

TIME_WAIT = Scenario(
    name="time-wait",
    title=T(
        "TIME-WAIT: why the active closer waits 2*MSL",
        "TIME-WAIT：为什么主动关闭方要等待 2MSL",
    ),
    summary=T(
        "The last ACK is lost: TIME-WAIT answers the repeated FIN; without it, a RST",
        "最后一个 ACK 丢失：TIME-WAIT 应答重传的 FIN；没有它，只剩 RST",
    ),
    intro=T(
        "The side that closes first ends in TIME-WAIT and stays there for twice the maximum "
        "segment lifetime, 2*MSL (RFC 9293 3.6.1; 60 s on Linux). Section 3.6 gives two "
        "reasons: its last ACK may be lost, and then the other side retransmits its FIN, "
        "which must be acknowledged again; and old duplicates of the connection's segments "
        "must die out before a new connection may use the same addresses and ports. Both "
        "runs lose the client's last ACK; the second shortens TIME-WAIT to zero "
        "(TcpConfig.time_wait=0).",
        "先关闭的一方最后进入 TIME-WAIT，并停留两倍的最大报文段生存时间（RFC 9293 3.6.1；"
        "Linux 上为 60 s）。3.6 节给出两个理由：它的最后一个 ACK 可能丢失，"
        "这时对方会重传 FIN，必须再次确认；并且这个连接的旧的重复报文段必须在网络中消失，"
        "新连接才能使用同样的地址和端口。两次运行都丢掉了客户端的最后一个 ACK；"
        "第二次把 TIME-WAIT 缩短为零（TcpConfig.time_wait=0）。",
    ),
    run=lambda params: [_time_wait(params, zero=False), _time_wait(params, zero=True)],
)


class _FinalAck:
    """Drops the first pure ACK after the sender's own FIN: its last ACK."""

    def __init__(self) -> None:
        self.fin_seen = False
        self.dropped = False

    def __call__(self, headers: PacketHeaders) -> bool:
        tcp = headers.tcp
        if tcp is None:
            return False
        if tcp.flags & FIN:
            self.fin_seen = True
            return False
        if self.fin_seen and not self.dropped and tcp.flags == ACK and not tcp.payload_length:
            self.dropped = True
            return True
        return False


_LAST_ACK = T(
    "This is the client's last segment. The client is in TIME-WAIT.",
    "这是客户端的最后一个报文段。客户端处于 TIME-WAIT。",
)
_FIN_AGAIN = T(
    "The server, in LAST-ACK, never got the ACK: it cannot know whether its FIN arrived, so "
    "it retransmits it when the retransmission timer fires.",
    "处于 LAST-ACK 的服务器始终没有收到 ACK：它无法知道自己的 FIN 是否到达，"
    "所以在重传定时器到期时重传 FIN。",
)


def _time_wait(params: Params, *, zero: bool) -> Part:
    config = TcpConfig(time_wait=0) if zero else TcpConfig()
    lab = Lab(params, configs={"client": config})
    lab.listen("server")
    lab.link(forward_drop=drop_where(_FinalAck(), count=1))
    lab.on("client", close_after(lab, CLOSE_AFTER))
    lab.on("server", close_on_end(lab))
    lab.connect("client")
    lab.run()
    server_sent = lab.sent("server")
    client_sent = lab.sent("client")
    fin_retransmitted = any(r.retransmission and r.segment.flags & FIN for r in server_sent)
    server_fin = fin_of(server_sent)
    reacks = acks_of(client_sent, server_fin)
    rsts = [record for record in client_sent if record.segment.flags & RST]
    server_end = [r for r in lab.sim.records("server", kind=StateChanged) if r.new is S.CLOSED]
    by_rst = bool(server_end) and "RST" in server_end[-1].cause
    remarks = [
        Remark("ack-fin", _LAST_ACK, host="client", after=True),
        Remark("fin-rtx", _FIN_AGAIN, host="server", after=True),
    ]
    if not zero:
        label = T(
            "TIME-WAIT as it should be, and the last ACK is lost",
            "正常的 TIME-WAIT，最后一个 ACK 丢失",
        )
        intro = T(
            "The client closes {after} after the connection is established; the server's "
            "application closes as soon as it reads the end of the stream. The network drops "
            "the client's last ACK.",
            "客户端在连接建立 {after} 后关闭；服务器的应用程序一读到流结束就关闭。"
            "网络丢掉了客户端的最后一个 ACK。",
        )
        remarks.append(
            Remark(
                "ack-fin-again",
                T(
                    "This is why the side that sends the last ACK must linger: it is the only "
                    "one that can answer a repeated FIN. The server now closes cleanly.",
                    "这就是发送最后一个 ACK 的一方必须停留的原因：只有它能应答重复的 FIN。"
                    "服务器现在可以正常关闭了。",
                ),
                host="client",
                after=True,
            )
        )
        facts = [
            Fact(
                fin_retransmitted,
                T(
                    "The server retransmitted its FIN after the last ACK was lost.",
                    "最后一个 ACK 丢失后，服务器重传了它的 FIN。",
                ),
            ),
            Fact(
                len(reacks) >= 2 and not rsts,
                T(
                    "The client, in TIME-WAIT, acknowledged the repeated FIN again; no RST.",
                    "处于 TIME-WAIT 的客户端再次确认了重复的 FIN；没有出现 RST。",
                ),
            ),
            Fact(
                bool(server_end) and not by_rst,
                T(
                    "The server's connection ended cleanly: LAST-ACK → CLOSED on the ACK.",
                    "服务器的连接正常结束：收到 ACK 后 LAST-ACK → CLOSED。",
                ),
            ),
        ]
    else:
        label = T(
            "⚠ TIME-WAIT shortened to zero (TcpConfig.time_wait=0)",
            "⚠ TIME-WAIT 缩短为零（TcpConfig.time_wait=0）",
        )
        intro = T(
            "The same run, but the client deletes the connection the moment it enters "
            "TIME-WAIT. (Never a default: RFC 9293 asks for 2*MSL, and Linux fixes it at 60 s.)",
            "同样的运行，但客户端一进入 TIME-WAIT 就删除连接。（这绝不是默认行为："
            "RFC 9293 要求 2MSL，Linux 固定为 60 s。）",
        )
        remarks += [
            Remark(
                "timewait-over",
                T(
                    "With TIME-WAIT at zero, the client deletes the connection at once: nobody "
                    "is left to answer if its last ACK went astray.",
                    "TIME-WAIT 为零，客户端立即删除连接：如果最后一个 ACK 丢失，就没有人能应答了。",
                ),
                host="client",
            ),
            Remark(
                "rst-reply",
                T(
                    "The repeated FIN finds no connection: the client answers with RST "
                    "(seq={seq}).",
                    "重传的 FIN 找不到连接：客户端回复 RST（seq={seq}）。",
                ),
                host="client",
            ),
            Remark(
                "rst-reply",
                T(
                    "The server's side ends in a reset instead of an orderly close, so it cannot "
                    "tell whether its FIN arrived. And had the client already opened a new "
                    "connection with the same addresses and ports, this FIN, or any old segment "
                    "still in the network, would have landed in the new one: the other failure "
                    "TIME-WAIT prevents.",
                    "服务器一方以复位而不是正常关闭结束，因此无法知道它的 FIN 是否到达。而且，"
                    "如果客户端已经用同样的地址和端口打开了新连接，"
                    "这个 FIN（或网络中任何旧的报文段）"
                    "就会落进新连接：这是 TIME-WAIT 防止的另一种故障。",
                ),
                host="client",
                after=True,
            ),
        ]
        facts = [
            Fact(
                fin_retransmitted and bool(rsts),
                T(
                    "The server's retransmitted FIN was answered with RST.",
                    "服务器重传的 FIN 得到的回应是 RST。",
                ),
            ),
            Fact(
                by_rst,
                T(
                    "The server's connection ended through the RST, not an orderly close.",
                    "服务器的连接因 RST 而结束，而不是正常关闭。",
                ),
            ),
        ]
    return lab.part(label, intro.filled(after=f"{CLOSE_AFTER // MS} ms"), remarks, facts)


# --- close-wait-leak --------------------------------------------------------------------------

CLOSE_WAIT_LEAK = Scenario(
    name="close-wait-leak",
    title=T(
        "CLOSE-WAIT leak: the application never calls close()",
        "CLOSE-WAIT 泄漏：应用程序从不调用 close()",
    ),
    summary=T(
        "The server ignores the end of stream: CLOSE-WAIT forever, the client FIN-WAIT-2 "
        "until its timeout",
        "服务器忽略了流结束：永远停在 CLOSE-WAIT，客户端在 FIN-WAIT-2 中等到超时",
    ),
    intro=T(
        "CLOSE-WAIT means: the peer has closed, and TCP waits for the local application to "
        "close too. TCP cannot do it for the application. If the application never calls "
        "close() (it ignores recv() returning end of stream, or forgets the socket), the "
        "connection stays in CLOSE-WAIT as long as the process lives, holding a descriptor and "
        "buffers; on a busy server they pile up (ss -tan state close-wait). The peer, in "
        "FIN-WAIT-2, gives up after tcp_fin_timeout (60 s) once its own socket is closed.",
        "CLOSE-WAIT 的意思是：对方已经关闭，TCP 在等待本地应用程序也关闭。TCP 不能替应用程序"
        "关闭。如果应用程序从不调用 close()（忽略了 recv() 返回的流结束，或者忘记了这个套接字），"
        "连接就会在进程存活期间一直停在 CLOSE-WAIT，占用描述符和缓冲区；在繁忙的服务器上它们"
        "会越积越多（ss -tan state close-wait）。对方在 FIN-WAIT-2 中，如果自己的套接字已关闭，"
        "会在 tcp_fin_timeout（60 s）后放弃。",
    ),
    run=lambda params: [_close_wait_leak(params)],
)

ANSWER = b"HTTP/1.0 200 OK\r\n\r\nhello\n"


def _close_wait_leak(params: Params) -> Part:
    lab = Lab(params)
    lab.listen("server")
    lab.link()

    def client(conn: Connection | Listener, event: Event) -> None:
        if isinstance(conn, Connection):
            if isinstance(event, Established):
                conn.send(REQUEST, lab.now)
            elif isinstance(event, Readable):
                drain(conn)
                conn.close(lab.now)

    def server(conn: Connection | Listener, event: Event) -> None:
        # The bug: the application answers, then never looks at the connection again.
        if (
            isinstance(conn, Connection)
            and isinstance(event, Readable)
            and conn.state is S.ESTABLISHED
            and not conn.fin_received
        ):
            drain(conn)
            conn.send(ANSWER, lab.now)

    lab.on("client", client)
    lab.on("server", server)
    lab.connect("client")
    lab.run()
    left = [conn.state for conn in lab.stacks["server"].connections]
    timeouts = [r.timer for r in lab.sim.records("client", kind=TimerFired)]
    client_states = lab.states("client")
    return lab.part(
        T(
            "the server's application answers, then forgets the connection",
            "服务器的应用程序作出回答，然后忘记了这个连接",
        ),
        T(
            "The client sends a request, reads the answer and closes. The server's application "
            "answers but never calls close(). The run ends when nothing is left to happen.",
            "客户端发送请求，读取回答后关闭。服务器的应用程序作出回答，但从不调用 close()。"
            "当不再有任何事件发生时，运行结束。",
        ),
        remarks=[
            Remark(
                "arrival",
                T(
                    "The server's TCP does its part: it will ACK the FIN and tell the "
                    "application, then wait for close(). It never comes.",
                    "服务器的 TCP 完成了自己的部分：它会确认 FIN 并通知应用程序，然后等待 close()。"
                    "但 close() 永远不会到来。",
                ),
                host="server",
                after=True,
                where=lambda step: step.get("states") == "CLOSE-WAIT",
            ),
            Remark(
                "finwait2-timeout",
                T(
                    "The client's side is gone; the server's is not. It is still in CLOSE-WAIT "
                    "as the run ends, and would be until its process exits.",
                    "客户端这一方已经消失；服务器那一方还在。运行结束时它仍处于 CLOSE-WAIT，"
                    "直到进程退出为止。",
                ),
                host="client",
                after=True,
            ),
        ],
        facts=[
            Fact(
                left == [S.CLOSE_WAIT] and fin_of(lab.sent("server")) is None,
                T(
                    "At the end the server still holds the connection in CLOSE-WAIT; it never "
                    "sent a FIN.",
                    "运行结束时服务器仍在 CLOSE-WAIT 中持有这个连接；它从未发送 FIN。",
                ),
            ),
            Fact(
                client_states[-2:] == [S.FIN_WAIT_2, S.CLOSED] and "FIN-WAIT-2 timeout" in timeouts,
                T(
                    "The client sat in FIN-WAIT-2 until its timeout, then deleted the connection.",
                    "客户端在 FIN-WAIT-2 中一直等到超时，然后删除了连接。",
                ),
            ),
        ],
    )


SCENARIOS = [TIME_WAIT, CLOSE_WAIT_LEAK]
