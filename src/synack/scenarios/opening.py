"""Opening a connection: ``handshake``, ``why-three``, ``simultaneous-open``, ``refused``."""

# Chinese text uses full-width punctuation on purpose:
# ruff: noqa: RUF001

from __future__ import annotations

from synack.net.sim import Simulator
from synack.scenarios.lab import Fact, Lab, Params, Part, Remark, Scenario
from synack.scenarios.text import T
from synack.tcp.config import MS, SECOND, TcpConfig
from synack.tcp.connection import Connection
from synack.tcp.events import Established, Event
from synack.tcp.stack import Listener
from synack.tcp.state import State
from synack.wire.tcp import TcpFlags

SYN, ACK, RST = TcpFlags.SYN, TcpFlags.ACK, TcpFlags.RST


def _delay(params: Params) -> dict[str, str]:
    return {"delay": f"{params.delay / MS:g} ms"}


# --- handshake ------------------------------------------------------------------------------

HANDSHAKE = Scenario(
    name="handshake",
    title=T("The three-way handshake", "三次握手"),
    summary=T(
        "SYN, SYN,ACK, ACK: how two hosts agree on their initial sequence numbers",
        "SYN、SYN,ACK、ACK：双方如何交换并确认各自的初始序号",
    ),
    intro=T(
        "Before any data can flow, each side must tell the other where its numbering of "
        "bytes starts (its initial sequence number, ISN) and learn that the other got it. "
        "The client's SYN carries its ISN; the server's SYN,ACK acknowledges it and carries "
        "the server's own ISN; the client's ACK acknowledges that. Each SYN needs an ACK, and "
        "the server sends its ACK and its SYN in one segment: three segments (RFC 9293 3.5).",
        "在传输数据之前，双方都要告诉对方自己的字节编号从哪里开始（初始序号 ISN），"
        "并确认对方已经收到。客户端的 SYN 携带它的 ISN；服务器的 SYN,ACK 确认它，"
        "同时携带服务器自己的 ISN；客户端的 ACK 再确认服务器的 ISN。每个 SYN 都需要一个 ACK，"
        "而服务器把 ACK 和 SYN 放在同一个报文段里：一共三个报文段（RFC 9293 3.5）。",
    ),
    run=lambda params: [_handshake(params)],
)

_ISN_REMARK = T(
    "The ISN is not 0: it comes from a clock plus a keyed hash of the addresses and ports "
    "(RFC 9293 3.4.1), so that segments of an old connection do not fit a new one and an "
    "attacker cannot guess it. The SYN also offers options (MSS, SACK, timestamps, window "
    "scale), used only if the SYN,ACK offers them too.",
    "ISN 不是 0：它由一个时钟加上对地址和端口的带密钥哈希得出（RFC 9293 3.4.1），"
    "这样旧连接的报文段落不进新连接的序号范围，攻击者也猜不到它。SYN 还提出了选项"
    "（MSS、SACK、时间戳、窗口缩放），只有 SYN,ACK 也带上时才会启用。",
)


def _handshake(params: Params) -> Part:
    lab = Lab(params)
    lab.listen("server")
    lab.link()
    lab.connect("client")
    lab.run()
    sent = {host: lab.sent(host) for host in ("client", "server")}
    flags = [int(record.segment.flags) for host in sent for record in sent[host]]
    isn = {host: sent[host][0].segment.seq for host in sent if sent[host]}
    acks = [record.segment.ack for record in (*sent["server"][:1], *sent["client"][1:2])]
    return lab.part(
        T("the client connects to port 80 of the server", "客户端连接服务器的 80 端口"),
        T(
            "The server listens on port 80; at 0 ms the client calls connect(). "
            "Each way the network takes {delay}.",
            "服务器在 80 端口监听；客户端在 0 ms 调用 connect()。网络单程时延 {delay}。",
        ).filled(**_delay(params)),
        remarks=[
            Remark("syn", _ISN_REMARK, host="client", after=True),
            Remark(
                "arrival",
                T(
                    "Both sides now know both ISNs, and each knows that the other knows: "
                    "data may flow both ways.",
                    "现在双方都知道两个 ISN，并且都知道对方也知道：数据可以双向传输了。",
                ),
                host="server",
                after=True,
            ),
        ],
        facts=[
            Fact(
                State.ESTABLISHED in lab.states("client")
                and State.ESTABLISHED in lab.states("server"),
                T("Both sides reached ESTABLISHED.", "双方都进入了 ESTABLISHED。"),
            ),
            Fact(
                sorted(flags) == sorted([int(SYN), int(SYN | ACK), int(ACK)])
                and len(isn) == 2
                and acks == [(isn["client"] + 1) & 0xFFFFFFFF, (isn["server"] + 1) & 0xFFFFFFFF],
                T(
                    "Three segments: SYN, SYN,ACK with ack = the client's ISN + 1, "
                    "and ACK with ack = the server's ISN + 1.",
                    "三个报文段：SYN；ack = 客户端 ISN + 1 的 "
                    "SYN,ACK；ack = 服务器 ISN + 1 的 ACK。",
                ),
            ),
        ],
    )


# --- why-three --------------------------------------------------------------------------------

#: How long the network holds the stale SYN, and when its client gives up.
STALE_SYN_DELAY = 3 * SECOND
CLIENT_GIVES_UP = 500 * MS
GREETING = b"220 service ready\r\n"

WHY_THREE = Scenario(
    name="why-three",
    title=T(
        "Why three segments to open a connection, and not two",
        "为什么建立连接要三次握手，而不是两次",
    ),
    summary=T(
        "An old duplicate SYN meets a broken two-way handshake, then the real three-way one",
        "一个迟到的旧 SYN：先遇到错误的两次握手，再遇到真正的三次握手",
    ),
    intro=T(
        "A SYN can be held up in the network and turn up long after its sender gave up on it. "
        "RFC 9293 (3.5, Figure 9) gives this as the main reason for the third segment: the "
        "server must not count a connection as open until the client confirms that it wants "
        "this one. The scenario runs twice with the same stale SYN: first against a BROKEN "
        "two-way handshake (a teaching variant, TcpConfig.teaching_two_way_handshake, never "
        "on by default), then against the real three-way handshake.",
        "SYN 可能在网络中滞留，在发送方早已放弃之后才到达。RFC 9293（3.5 节，图 9）"
        "把这作为第三个报文段的主要理由：在客户端确认它确实想要这个连接之前，"
        "服务器不能认为连接已经建立。本场景用同一个迟到的 SYN 运行两次：第一次对着一个"
        "错误的两次握手（教学变体 TcpConfig.teaching_two_way_handshake，默认永远关闭），"
        "第二次对着真正的三次握手。",
    ),
    run=lambda params: [_why_three(params, two_way=True), _why_three(params, two_way=False)],
)

_STALE_SYN = T(
    "{call}{who} sends SYN, seq={seq} (ISN {isn}). The network holds it up: it will arrive "
    "{flight} later.",
    "{call}{who}发送 SYN，seq={seq}（ISN {isn}）。网络把它滞留了：它要过 {flight} 才到达。",
)
_GAVE_UP = T(
    "As far as the client is concerned, that connection never existed.",
    "对客户端来说，那个连接从未存在过。",
)


def _why_three(params: Params, *, two_way: bool) -> Part:
    config = TcpConfig(teaching_two_way_handshake=two_way)
    lab = Lab(params, configs={"server": config})
    lab.listen("server")
    lab.link()

    def server(conn: Connection | Listener, event: Event) -> None:
        # The server's application greets every client as soon as it has one.
        if isinstance(conn, Connection) and isinstance(event, Established):
            conn.send(GREETING, lab.now)

    def hold_the_syn(conn: Connection) -> None:
        # Only this SYN is delayed: it is "held back" (reordered) by STALE_SYN_DELAY,
        # so later datagrams are not queued behind it; the link is normal again at once.
        lab.sim.configure("client", "server", reorder=1.0, reorder_delay=STALE_SYN_DELAY)

        def release(sim: Simulator) -> None:
            sim.configure("client", "server", reorder=0.0)

        lab.sim.call_soon(release)

    lab.on("server", server)
    lab.connect("client", then=hold_the_syn)
    lab.at(CLIENT_GIVES_UP, lambda: lab.conns["client"].close(lab.now))  # an app timeout
    lab.run()
    server_states = lab.states("server")
    client_rst = any(record.segment.flags & RST for record in lab.sent("client"))
    served = any(record.segment.payload for record in lab.sent("server"))
    remarks = [
        Remark("syn", _STALE_SYN, host="client"),
        Remark("call-closed", _GAVE_UP, host="client", after=True),
    ]
    if two_way:
        remarks += [
            Remark(
                "synack",
                T(
                    "⚠ Two-way handshake: the server counts the connection as open now, with "
                    "no confirmation, and its application starts serving a client that gave up "
                    "long ago.",
                    "⚠ 两次握手：服务器现在就认为连接已经建立，没有任何确认，"
                    "它的应用程序开始为一个早已放弃的客户端服务。",
                ),
                host="server",
                after=True,
            ),
            Remark(
                "data",
                T(
                    "The greeting goes to a connection nobody wants: the server has committed a "
                    "socket, buffers and its application's work to it.",
                    "问候语发给了一个没人要的连接："
                    "服务器已经为它投入了套接字、缓冲区和应用程序的工作。",
                ),
                host="server",
                after=True,
            ),
            Remark(
                "rst-reply",
                T(
                    "Here the client's RST undoes the damage after the fact. Had the SYN,ACK or "
                    "the RST been lost, or the client's host been down, nothing would ever tell "
                    "the server: it would keep the connection and retransmit into the void.",
                    "这里客户端的 RST 在事后挽回了局面。如果 SYN,ACK 或 RST 丢失，"
                    "或者客户端主机已经关机，就没有任何东西会通知服务器："
                    "它会一直保留这个连接，向空中不断重传。",
                ),
                host="client",
                after=True,
            ),
        ]
        label = T(
            "⚠ BROKEN TEACHING VARIANT: a two-way handshake (never the default)",
            "⚠ 错误的教学变体：两次握手（永远不是默认行为）",
        )
        intro = T(
            "Here the server counts a connection ESTABLISHED as soon as it has answered the "
            "SYN, and its application greets the client at once. The client's SYN is held up "
            "in the network for {hold}; the client gives up after {gives_up} and closes.",
            "这里服务器一回复 SYN 就认为连接已经进入 ESTABLISHED，它的应用程序立刻向客户端发送"
            "问候语。客户端的 SYN 在网络中滞留了 {hold}；客户端在 {gives_up} 后放弃并关闭。",
        )
        facts = [
            Fact(
                State.ESTABLISHED in server_states,
                T(
                    "The server reached ESTABLISHED for a connection its client had abandoned.",
                    "服务器为一个客户端早已放弃的连接进入了 ESTABLISHED。",
                ),
            ),
            Fact(
                served,
                T(
                    "The server's application served it: its greeting left with no "
                    "confirmation that anyone was there.",
                    "服务器的应用程序为它提供了服务：问候语在没有任何确认的情况下发了出去。",
                ),
            ),
        ]
    else:
        remarks += [
            Remark(
                "synack",
                T(
                    "The server commits nothing yet: in SYN-RECEIVED it waits for the ACK of "
                    "its SYN, which only a client that wants this connection would send.",
                    "服务器此时还没有投入任何东西：它在 SYN-RECEIVED 中等待对其 SYN 的确认，"
                    "只有真正想要这个连接的客户端才会发送这个 ACK。",
                ),
                host="server",
                after=True,
            ),
            Remark(
                "rst-reply",
                T(
                    "The client has no connection on this port, so the stale SYN,ACK gets a "
                    "RST. Its seq is the SYN,ACK's ack, which the server will find acceptable "
                    "(RFC 9293 3.10.7.4).",
                    "客户端在这个端口上没有连接，所以这个过时的 SYN,ACK 得到的是 RST。"
                    "RST 的 seq 就是 SYN,ACK 中的 ack，"
                    "服务器会认为它可以接受（RFC 9293 3.10.7.4）。",
                ),
                host="client",
                after=True,
            ),
            Remark(
                "arrival",
                T(
                    "The half-open connection is dropped and the listener carries on "
                    "(RFC 9293 3.5: a passive open returns to LISTEN). The server's application "
                    "never saw it.",
                    "半开连接被丢弃，监听继续进行（RFC 9293 3.5：被动打开的连接回到 LISTEN）。"
                    "服务器的应用程序根本没有看到它。",
                ),
                host="server",
                after=True,
                where=lambda step: step.get("segment") == "RST",
            ),
        ]
        label = T("the real three-way handshake", "真正的三次握手")
        intro = T(
            "The same stale SYN, held up for {hold} while the client gives up after "
            "{gives_up}, now reaches a server that waits for the third segment.",
            "同一个迟到的 SYN（滞留 {hold}，客户端在 {gives_up} 后放弃）"
            "这次到达的是一个等待第三个报文段的服务器。",
        )
        facts = [
            Fact(
                State.ESTABLISHED not in server_states and State.SYN_RECEIVED in server_states,
                T(
                    "The server never reached ESTABLISHED: the stale SYN only got as far as "
                    "SYN-RECEIVED.",
                    "服务器从未进入 ESTABLISHED：迟到的 SYN 只让它走到了 SYN-RECEIVED。",
                ),
            ),
            Fact(
                client_rst,
                T(
                    "The client answered the stale SYN,ACK with RST.",
                    "客户端用 RST 回应了过时的 SYN,ACK。",
                ),
            ),
            Fact(
                not served,
                T(
                    "The server's application did no work for it.",
                    "服务器的应用程序没有为它做任何事。",
                ),
            ),
        ]
    hold = {"hold": f"{STALE_SYN_DELAY // SECOND} s", "gives_up": f"{CLIENT_GIVES_UP // MS} ms"}
    return lab.part(label, intro.filled(**hold), remarks, facts)


# --- simultaneous open --------------------------------------------------------------------------

SIMULTANEOUS_OPEN = Scenario(
    name="simultaneous-open",
    title=T("Simultaneous open: two SYNs cross", "同时打开：两个 SYN 交错而过"),
    summary=T(
        "Both hosts connect to each other at once: four segments, one connection",
        "双方同时向对方发起连接：四个报文段，一个连接",
    ),
    intro=T(
        "Two hosts may open a connection to each other at the same moment, each from the port "
        "the other connects to (RFC 9293 3.5). Their SYNs cross in the network: each side, in "
        "SYN-SENT, receives a SYN where it expected a SYN,ACK, moves to SYN-RECEIVED and sends "
        "SYN,ACK; each SYN,ACK then completes the other's handshake. Four segments instead of "
        "three, and one connection (RFC 9293 3.5, Figure 8).",
        "两台主机可以在同一时刻互相发起连接，各自使用对方要连接的端口（RFC 9293 3.5）。"
        "两个 SYN 在网络中交错而过：双方都在 SYN-SENT 中收到了 SYN 而不是预期的 SYN,ACK，"
        "于是进入 SYN-RECEIVED 并发送 SYN,ACK；每个 SYN,ACK 又完成了对方的握手。"
        "四个报文段而不是三个，只建立一个连接（RFC 9293 3.5，图 8）。",
    ),
    run=lambda params: [_simultaneous_open(params)],
)


def _simultaneous_open(params: Params) -> Part:
    lab = Lab(params, "A", "B")
    lab.link()
    lab.connect("A", port=6000, local_port=5000)
    lab.connect("B", port=5000, local_port=6000)
    lab.run()
    path = [State.SYN_SENT, State.SYN_RECEIVED, State.ESTABLISHED]
    segments = len(lab.sent("A")) + len(lab.sent("B"))
    return lab.part(
        T(
            "A (port 5000) and B (port 6000) call connect() to each other at 0 ms",
            "A（端口 5000）和 B（端口 6000）在 0 ms 同时调用 connect() 连接对方",
        ),
        T(
            "Neither listens: each connects from the port the other connects to. Each way the "
            "network takes {delay}, so the SYNs cross half way.",
            "双方都没有监听：各自从对方要连接的端口发起连接。网络单程时延 {delay}，"
            "所以两个 SYN 在半路交错。",
        ).filled(**_delay(params)),
        remarks=[
            Remark(
                "arrival",
                T(
                    "Each SYN,ACK acknowledges a SYN: both sides are ESTABLISHED, with no "
                    "third ACK needed.",
                    "每个 SYN,ACK 都确认了一个 SYN：双方都进入 ESTABLISHED，不需要再发第三个 ACK。",
                ),
                host="B",
                after=True,
            ),
        ],
        facts=[
            Fact(
                lab.states("A") == path and lab.states("B") == path,
                T(
                    "Both sides went SYN-SENT → SYN-RECEIVED → ESTABLISHED.",
                    "双方都经历了 SYN-SENT → SYN-RECEIVED → ESTABLISHED。",
                ),
            ),
            Fact(
                segments == 4,
                T(
                    "Four segments: two SYNs and two SYN,ACKs.",
                    "四个报文段：两个 SYN 和两个 SYN,ACK。",
                ),
            ),
        ],
    )


# --- refused ------------------------------------------------------------------------------------

CLOSED_PORT = 8080

REFUSED = Scenario(
    name="refused",
    title=T("Connection refused: a SYN to a closed port", "连接被拒绝：发往无人监听端口的 SYN"),
    summary=T(
        "Nobody listens: the SYN gets RST,ACK and connect() fails with ECONNREFUSED",
        "无人监听：SYN 得到 RST,ACK，connect() 以 ECONNREFUSED 失败",
    ),
    intro=T(
        "A SYN for a port where nothing listens has no connection to go to, so TCP answers "
        "with a reset: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (RFC 9293 3.10.7.1). The RST "
        "acknowledges the SYN, which is how the client knows it answers its own SYN and not "
        "an old one (3.10.7.3). connect() then fails at once with ECONNREFUSED instead of "
        "retrying for two minutes.",
        "发往无人监听端口的 SYN 没有连接可以交付，于是 TCP 回复一个复位报文："
        "<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>（RFC 9293 3.10.7.1）。这个 RST 确认了 SYN，"
        "客户端由此知道它回应的是自己的 SYN 而不是一个旧的 SYN（3.10.7.3）。"
        "于是 connect() 立即以 ECONNREFUSED 失败，而不是重试两分钟。",
    ),
    run=lambda params: [_refused(params)],
)


def _refused(params: Params) -> Part:
    lab = Lab(params)
    lab.link()
    lab.connect("client", port=CLOSED_PORT)
    lab.run()
    refused = any("ConnectionRefusedError" in str(o.params.get("error")) for o in lab.observations)
    server_rst = [record for record in lab.sent("server") if record.segment.flags & RST]
    syn = lab.sent("client")[0].segment if lab.sent("client") else None
    return lab.part(
        T(
            "the client connects to port {port} of the server, where nothing listens",
            "客户端连接服务器的 {port} 端口，那里无人监听",
        ).filled(port=CLOSED_PORT),
        T(
            "The server runs no application on port {port}. Each way the network takes {delay}.",
            "服务器在 {port} 端口上没有运行任何应用程序。网络单程时延 {delay}。",
        ).filled(port=CLOSED_PORT, **_delay(params)),
        remarks=[
            Remark(
                "rst-reply",
                T(
                    "{who} has no connection or listener for port {port}: it answers RST,ACK "
                    "with seq={seq} and ack={ack}, the SYN's seq + 1.",
                    "{who}在 {port} 端口上既没有连接也没有监听者：它回复 RST,ACK，"
                    "seq={seq}，ack={ack} 即 SYN 的 seq + 1。",
                ).filled(port=CLOSED_PORT),
                host="server",
            ),
            Remark(
                "app",
                T(
                    "connect() fails at once: {error}. No retries, no two-minute wait.",
                    "connect() 立即失败：{error}。没有重试，也不用等两分钟。",
                ),
                host="client",
            ),
        ],
        facts=[
            Fact(
                len(server_rst) == 1
                and syn is not None
                and server_rst[0].segment.ack == (syn.seq + 1) & 0xFFFFFFFF,
                T(
                    "The server answered the SYN with one RST,ACK acknowledging it.",
                    "服务器用一个确认该 SYN 的 RST,ACK 作了回应。",
                ),
            ),
            Fact(
                refused and lab.states("client") == [State.SYN_SENT, State.CLOSED],
                T(
                    "The client went SYN-SENT → CLOSED and connect() raised "
                    "ConnectionRefusedError (ECONNREFUSED).",
                    "客户端经历 SYN-SENT → CLOSED，connect() 抛出 "
                    "ConnectionRefusedError（ECONNREFUSED）。",
                ),
            ),
            Fact(
                not lab.states("server"),
                T(
                    "The server created no connection at all.",
                    "服务器根本没有创建任何连接。",
                ),
            ),
        ],
    )


SCENARIOS = [HANDSHAKE, WHY_THREE, SIMULTANEOUS_OPEN, REFUSED]
