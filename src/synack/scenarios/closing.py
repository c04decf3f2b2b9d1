"""Closing a connection: ``close``, ``why-four``, ``simultaneous-close``, ``half-close``,
and the helpers the closing scenarios share (``synack.scenarios.waiting`` has the
two that are about waiting: ``time-wait`` and ``close-wait-leak``)."""

# Chinese text uses full-width punctuation on purpose:
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Callable

from synack.scenarios.lab import Fact, Lab, Params, Part, Remark, Scenario
from synack.scenarios.text import T
from synack.tcp.config import MS
from synack.tcp.connection import Connection
from synack.tcp.events import Established, Event, PeerFinished, Readable
from synack.tcp.stack import Listener
from synack.tcp.state import State
from synack.trace.records import SegmentSent, StateChanged
from synack.trace.summary import format_flags
from synack.wire.tcp import TcpFlags

S = State
FIN, ACK, RST = TcpFlags.FIN, TcpFlags.ACK, TcpFlags.RST
MASK = 0xFFFFFFFF
CLOSE_AFTER = 50 * MS  # the client closes this long after the handshake


def delay_text(params: Params) -> dict[str, str]:
    return {"delay": f"{params.delay / MS:g} ms"}


def drain(conn: Connection, into: bytearray | None = None) -> bool:
    """Read everything buffered (into ``into``); True once the stream has ended."""
    try:
        while chunk := conn.recv(65536):
            if into is not None:
                into += chunk
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True


def fin_of(records: list[SegmentSent]) -> int | None:
    """The sequence number of the first FIN among ``records``."""
    for record in records:
        segment = record.segment
        if segment.flags & FIN:
            return (segment.seq + len(segment.payload)) & MASK
    return None


def acks_of(records: list[SegmentSent], number: int | None) -> list[SegmentSent]:
    """The segments among ``records`` that acknowledge ``number`` (a FIN) exactly."""
    if number is None:
        return []
    return [
        record
        for record in records
        if record.segment.flags & ACK and record.segment.ack == (number + 1) & MASK
    ]


def entered(lab: Lab, host: str, state: State) -> int | None:
    """When ``host`` first entered ``state``."""
    for record in lab.sim.records(host, kind=StateChanged):
        if record.new is state:
            return record.time
    return None


def close_after(lab: Lab, delay: int) -> Callable[[Connection | Listener, Event], None]:
    """A handler that closes its connection ``delay`` after it is established."""

    def handler(conn: Connection | Listener, event: Event) -> None:
        if isinstance(conn, Connection):
            if isinstance(event, Established):
                lab.after(delay, lambda: conn.close(lab.now))
            elif isinstance(event, Readable):
                drain(conn)

    return handler


def close_on_end(lab: Lab, delay: int = 0) -> Callable[[Connection | Listener, Event], None]:
    """A handler that closes its connection ``delay`` after the peer's FIN is read."""

    def handler(conn: Connection | Listener, event: Event) -> None:
        if isinstance(conn, Connection) and isinstance(event, PeerFinished | Readable):
            ended = drain(conn)
            if ended and isinstance(event, PeerFinished):
                if delay:
                    lab.after(delay, lambda: conn.close(lab.now))
                else:
                    conn.close(lab.now)

    return handler


# --- close ----------------------------------------------------------------------------------

CLOSE = Scenario(
    name="close",
    title=T("The four-way close", "四次挥手"),
    summary=T(
        "FIN, ACK, FIN, ACK: each side ends its own direction, then TIME-WAIT",
        "FIN、ACK、FIN、ACK：双方各自结束自己的方向，然后是 TIME-WAIT",
    ),
    intro=T(
        "A connection is two byte streams, one each way, and each side ends its own with a "
        "FIN when its application closes; each FIN is acknowledged. The client closes first "
        "(the active close: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT). The server's TCP acknowledges "
        "the FIN and tells its application, which closes in its own time (the passive close: "
        "CLOSE-WAIT, LAST-ACK). The side that closed first then waits 2*MSL in TIME-WAIT "
        "(RFC 9293 3.6).",
        "一个连接是两条字节流，每个方向一条；应用程序关闭时，每一方用 FIN 结束自己的那条，"
        "每个 FIN 都要被确认。客户端先关闭（主动关闭：FIN-WAIT-1、FIN-WAIT-2、TIME-WAIT）。"
        "服务器的 TCP 确认这个 FIN 并通知应用程序，应用程序在自己合适的时候关闭"
        "（被动关闭：CLOSE-WAIT、LAST-ACK）。先关闭的一方随后在 TIME-WAIT 中等待 2MSL"
        "（RFC 9293 3.6）。",
    ),
    run=lambda params: [_close(params)],
)

SERVER_CLOSE_DELAY = 100 * MS


def _close(params: Params) -> Part:
    lab = Lab(params)
    lab.listen("server")
    lab.link()
    lab.on("client", close_after(lab, CLOSE_AFTER))
    lab.on("server", close_on_end(lab, SERVER_CLOSE_DELAY))
    lab.connect("client")
    lab.run()
    client_path = [S.SYN_SENT, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.TIME_WAIT, S.CLOSED]
    server_path = [S.LISTEN, S.SYN_RECEIVED, S.ESTABLISHED, S.CLOSE_WAIT, S.LAST_ACK, S.CLOSED]
    handshake_end = entered(lab, "client", S.FIN_WAIT_1) or 0
    closing = sorted(
        (record.time, format_flags(record.segment.flags))
        for host in ("client", "server")
        for record in lab.sent(host)
        if record.time >= handshake_end
    )
    return lab.part(
        T("the client closes first, the server a little later", "客户端先关闭，服务器稍后关闭"),
        T(
            "The client calls close() {after} after the connection is established; the "
            "server's application calls close() {server} after it reads the end of the stream. "
            "Each way the network takes {delay}.",
            "客户端在连接建立 {after} 后调用 close()；服务器的应用程序在读到流结束 {server} "
            "后调用 close()。网络单程时延 {delay}。",
        ).filled(
            after=f"{CLOSE_AFTER // MS} ms",
            server=f"{SERVER_CLOSE_DELAY // MS} ms",
            **delay_text(params),
        ),
        remarks=[
            Remark(
                "fin",
                T(
                    "In FIN-WAIT-1 the client may still receive, but it sends no more data.",
                    "在 FIN-WAIT-1 中客户端仍可以接收，但不再发送数据。",
                ),
                host="client",
                after=True,
            ),
            Remark(
                "arrival",
                T(
                    "The server's application is told the stream has ended (recv() returns "
                    "b''). Until it calls close() the server stays in CLOSE-WAIT, and may still "
                    "send.",
                    "服务器的应用程序得知数据流已结束（recv() 返回 b''）。在它调用 close() 之前，"
                    "服务器一直处于 CLOSE-WAIT，而且仍可以发送数据。",
                ),
                host="server",
                after=True,
                where=lambda step: step.get("states") == "CLOSE-WAIT",
            ),
            Remark(
                "ack-fin",
                T(
                    "It waited in case the application closed quickly and a FIN could carry the "
                    "ACK (as Linux does); the application has not closed.",
                    "它等待了一会儿，看应用程序是否很快关闭、让 "
                    "FIN 捎带这个 ACK（Linux 也是这样）；"
                    "但应用程序还没有关闭。",
                ),
                host="server",
                after=True,
            ),
            Remark(
                "arrival",
                T(
                    "The client-to-server direction is finished; the client now waits for the "
                    "server's FIN.",
                    "客户端到服务器的方向已经结束；客户端现在等待服务器的 FIN。",
                ),
                host="client",
                after=True,
                where=lambda step: step.get("states") == "FIN-WAIT-2",
            ),
            Remark(
                "ack-fin",
                T(
                    "The client is in TIME-WAIT: it lingers 2*MSL (60 s on Linux) to ACK the FIN "
                    "again should this ACK be lost, and to let old segments of the connection die "
                    "out (see `synack demo time-wait`).",
                    "客户端进入 TIME-WAIT：它要停留 2MSL（Linux 上为 60 s），以便这个 ACK 丢失时"
                    "能再次确认 FIN，并让这个连接的旧报文段在网络中消失（见 "
                    "synack demo time-wait）。",
                ),
                host="client",
                after=True,
            ),
        ],
        facts=[
            Fact(
                lab.states("client") == client_path,
                T(
                    "The client (active close): FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT → CLOSED.",
                    "客户端（主动关闭）：FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT → CLOSED。",
                ),
            ),
            Fact(
                lab.states("server") == server_path,
                T(
                    "The server (passive close): CLOSE-WAIT → LAST-ACK → CLOSED.",
                    "服务器（被动关闭）：CLOSE-WAIT → LAST-ACK → CLOSED。",
                ),
            ),
            Fact(
                [flags for _, flags in closing] == ["FIN,ACK", "ACK", "FIN,ACK", "ACK"],
                T(
                    "The close took four segments: FIN, ACK, FIN, ACK.",
                    "关闭用了四个报文段：FIN、ACK、FIN、ACK。",
                ),
            ),
        ],
    )


# --- why-four -------------------------------------------------------------------------------

WHY_FOUR = Scenario(
    name="why-four",
    title=T("Why four segments to close, and sometimes three", "为什么挥手要四次，有时只要三次"),
    summary=T(
        "Data still flows after a FIN, so ACK and FIN go apart; with nothing left, they merge",
        "FIN 之后数据仍可能流动，所以 ACK 和 FIN 分开发送；无数据可发时二者合并",
    ),
    intro=T(
        "Opening takes three segments because the server's SYN rides on its ACK. Closing "
        "usually takes four because the two directions close independently: the ACK of a FIN "
        "is due at once, but the other side's FIN only when its application is done sending, "
        "which may be much later, with data still flowing in between (half-close, "
        "RFC 9293 3.6.1). When the application has nothing left to send and closes at once, "
        "its FIN carries the ACK and the close takes three segments.",
        "建立连接只要三个报文段，因为服务器的 SYN 可以捎带在 ACK 上。关闭通常要四个，"
        "因为两个方向是各自独立关闭的：对 FIN 的确认要立即发出，而另一方的 FIN "
        "要等它的应用程序发送完毕才会发出，可能晚得多，中间还可以继续传输数据"
        "（半关闭，RFC 9293 3.6.1）。如果应用程序已无数据可发并立即关闭，它的 FIN 就会捎带 ACK，"
        "关闭只需三个报文段。",
    ),
    run=lambda params: [_why_four_data(params), _why_four_three(params)],
)

REQUEST = b"GET /report\r\n\r\n"
CHUNKS = (b"report part 1\n", b"report part 2\n", b"report part 3\n")
CHUNK_INTERVAL = 100 * MS


def _why_four_data(params: Params) -> Part:
    lab = Lab(params)
    lab.listen("server")
    lab.link()
    received = bytearray()
    shut = [False]

    def client(conn: Connection | Listener, event: Event) -> None:
        if not isinstance(conn, Connection):
            return
        if isinstance(event, Established):
            conn.send(REQUEST, lab.now)
        elif isinstance(event, Readable | PeerFinished):
            ended = drain(conn, received)
            if received and not shut[0]:
                shut[0] = True  # nothing more to say: end our direction, keep reading
                conn.shutdown(1, lab.now)
            if ended and isinstance(event, PeerFinished):
                conn.close(lab.now)

    def server(conn: Connection | Listener, event: Event) -> None:
        if isinstance(conn, Connection) and isinstance(event, Readable):
            if drain(conn) or conn.state is not S.ESTABLISHED:
                return
            for index, chunk in enumerate(CHUNKS):

                def send(chunk: bytes = chunk) -> None:
                    conn.send(chunk, lab.now)

                lab.after(index * CHUNK_INTERVAL, send)
            lab.after(len(CHUNKS) * CHUNK_INTERVAL, lambda: conn.close(lab.now))

    lab.on("client", client)
    lab.on("server", server)
    lab.connect("client")
    lab.run()
    client_fin = fin_of(lab.sent("client"))
    server_sent = lab.sent("server")
    ack = next(iter(acks_of(server_sent, client_fin)), None)
    close_wait = entered(lab, "server", S.CLOSE_WAIT)
    server_fin_time = next((r.time for r in server_sent if r.segment.flags & FIN), None)
    data_in_close_wait = [
        record
        for record in server_sent
        if record.segment.payload
        and close_wait is not None
        and record.time >= close_wait
        and not record.segment.flags & FIN
    ]
    return lab.part(
        T(
            "the server still has data to send after the client's FIN",
            "客户端发出 FIN 之后，服务器还有数据要发送",
        ),
        T(
            "The client sends a request and, with nothing more to say, shuts down its sending "
            "side (shutdown(SHUT_WR)). The server's application sends its answer in {count} "
            "pieces, {interval} apart, and closes after the last one.",
            "客户端发送请求后已无话可说，于是关闭自己的发送方向（shutdown(SHUT_WR)）。"
            "服务器的应用程序分 {count} 次发送回答，每次间隔 {interval}，发完最后一块后关闭。",
        ).filled(count=len(CHUNKS), interval=f"{CHUNK_INTERVAL // MS} ms"),
        remarks=[
            Remark(
                "fin",
                T(
                    "The client's direction is finished; the server's is not.",
                    "客户端的方向结束了；服务器的方向还没有。",
                ),
                host="client",
                after=True,
            ),
            Remark(
                "ack-fin",
                T(
                    "This ACK goes alone: the server's application has more to send, so there is "
                    "no FIN to put with it yet.",
                    "这个 ACK 只能单独发送：服务器的应用程序还有数据要发，"
                    "还没有 FIN 可以和它一起走。",
                ),
                host="server",
                after=True,
            ),
            Remark(
                "data",
                T(
                    "Data still flows from the server in CLOSE-WAIT, and the client, in "
                    "FIN-WAIT-2, still reads it.",
                    "服务器在 CLOSE-WAIT 中仍在发送数据，处于 FIN-WAIT-2 的客户端仍在读取。",
                ),
                host="server",
                nth=2,
                after=True,
            ),
            Remark(
                "fin",
                T(
                    "Only now, its answer complete, does the server send its FIN: the fourth "
                    "segment of the close comes long after the second.",
                    "直到回答全部发完，服务器才发送它的 FIN："
                    "关闭过程的第四个报文段比第二个晚得多。",
                ),
                host="server",
                after=True,
            ),
        ],
        facts=[
            Fact(
                ack is not None and not ack.segment.flags & FIN,
                T(
                    "The server's ACK of the client's FIN and the server's own FIN were separate "
                    "segments.",
                    "服务器对客户端 FIN 的确认和服务器自己的 FIN 是两个独立的报文段。",
                ),
            ),
            Fact(
                bool(data_in_close_wait)
                and server_fin_time is not None
                and all(record.time < server_fin_time for record in data_in_close_wait),
                T(
                    "Between them, the server sent data while in CLOSE-WAIT.",
                    "在这两者之间，服务器在 CLOSE-WAIT 中发送了数据。",
                ),
            ),
            Fact(
                bytes(received) == b"".join(CHUNKS),
                T(
                    "The client, half-closed, received the whole answer.",
                    "已经半关闭的客户端收到了完整的回答。",
                ),
            ),
        ],
    )


def _why_four_three(params: Params) -> Part:
    lab = Lab(params)
    lab.listen("server")
    lab.link()
    lab.on("client", close_after(lab, CLOSE_AFTER))
    lab.on("server", close_on_end(lab))
    lab.connect("client")
    lab.run()
    client_fin = fin_of(lab.sent("client"))
    acks = acks_of(lab.sent("server"), client_fin)
    start = entered(lab, "client", S.FIN_WAIT_1) or 0
    closing = [
        record for host in ("client", "server") for record in lab.sent(host) if record.time >= start
    ]
    return lab.part(
        T("the server has nothing more to send", "服务器已经没有数据要发送"),
        T(
            "The client closes; the server's application reads the end of the stream and closes "
            "at once. Linux (and synack) wait the delayed-ACK time before acknowledging a FIN, "
            "so the server's FIN is ready in time to carry the ACK.",
            "客户端关闭；服务器的应用程序读到流结束后立即关闭。Linux（以及 synack）"
            "在确认 FIN 之前会等待延迟确认的时间，所以服务器的 FIN 来得及捎带这个 ACK。",
        ),
        remarks=[
            Remark(
                "fin-ack-fin",
                T(
                    "Three segments in all: FIN, FIN+ACK, ACK. The second and third segments of "
                    "the four-way close have merged.",
                    "一共三个报文段：FIN、FIN+ACK、ACK。四次挥手中的第二和第三个报文段合并了。",
                ),
                host="server",
                after=True,
            ),
        ],
        facts=[
            Fact(
                len(acks) >= 1 and bool(acks[0].segment.flags & FIN),
                T(
                    "The server's FIN carried the ACK of the client's FIN.",
                    "服务器的 FIN 捎带了对客户端 FIN 的确认。",
                ),
            ),
            Fact(
                len(closing) == 3,
                T("The close took three segments.", "关闭只用了三个报文段。"),
            ),
        ],
    )


# --- simultaneous close -----------------------------------------------------------------------

SIMULTANEOUS_CLOSE = Scenario(
    name="simultaneous-close",
    title=T("Simultaneous close: two FINs cross", "同时关闭：两个 FIN 交错而过"),
    summary=T(
        "Both sides close at once: FIN-WAIT-1, CLOSING, then TIME-WAIT on both sides",
        "双方同时关闭：FIN-WAIT-1、CLOSING，然后双方都进入 TIME-WAIT",
    ),
    intro=T(
        "When both applications close at the same moment, both FINs are in flight together. "
        "Each side, in FIN-WAIT-1, receives a FIN before the ACK of its own: it acknowledges "
        "it and moves to CLOSING, the rarest of the states; the ACK of its own FIN then takes "
        "it to TIME-WAIT. Both sides closed actively, so both wait out TIME-WAIT (RFC 9293 3.6, "
        "Figure 13).",
        "当双方的应用程序在同一时刻关闭时，两个 FIN 同时在网络中传输。每一方都处于 FIN-WAIT-1，"
        "在收到对自己 FIN 的确认之前先收到了对方的 FIN：它确认这个 FIN 并进入 CLOSING"
        "（最少见的状态）；随后对自己 FIN 的确认把它带入 TIME-WAIT。双方都是主动关闭，"
        "所以都要等待 TIME-WAIT 结束（RFC 9293 3.6，图 13）。",
    ),
    run=lambda params: [_simultaneous_close(params)],
)

BOTH_CLOSE_AT = 100 * MS


def _simultaneous_close(params: Params) -> Part:
    lab = Lab(params, "A", "B")
    lab.listen("B")
    lab.link()
    lab.connect("A")

    def both_close() -> None:
        for host in ("A", "B"):
            conn = lab.conns.get(host)  # (with heavy loss B may not be connected yet)
            if conn is not None:
                conn.close(lab.now)

    lab.at(BOTH_CLOSE_AT, both_close)
    lab.run()
    path = [S.FIN_WAIT_1, S.CLOSING, S.TIME_WAIT, S.CLOSED]
    return lab.part(
        T(
            "A connects to B; both call close() at {at}",
            "A 连接到 B；双方在 {at} 同时调用 close()",
        ).filled(at=f"{BOTH_CLOSE_AT // MS} ms"),
        T(
            "Each way the network takes {delay}, so the FINs cross half way.",
            "网络单程时延 {delay}，所以两个 FIN 在半路交错。",
        ).filled(**delay_text(params)),
        remarks=[
            Remark(
                "ack-fin",
                T(
                    "{who} got {peer}'s FIN while its own FIN was not yet acknowledged: "
                    "FIN-WAIT-1 → CLOSING. It acknowledges it (ack={ack}); the two ACKs cross as "
                    "the FINs did.",
                    "{who}在自己的 FIN 还没被确认时收到了{peer}的 FIN：FIN-WAIT-1 → CLOSING。"
                    "它确认这个 FIN（ack={ack}）；两个 ACK 像两个 FIN 一样交错而过。",
                ),
                host="A",
            ),
        ],
        facts=[
            Fact(
                lab.states("A")[-4:] == path and lab.states("B")[-4:] == path,
                T(
                    "Both sides went FIN-WAIT-1 → CLOSING → TIME-WAIT → CLOSED.",
                    "双方都经历了 FIN-WAIT-1 → CLOSING → TIME-WAIT → CLOSED。",
                ),
            ),
        ],
    )


# --- half-close -------------------------------------------------------------------------------

HALF_CLOSE = Scenario(
    name="half-close",
    title=T(
        "Half-close: shutdown(SHUT_WR) while data flows back",
        "半关闭：shutdown(SHUT_WR) 之后数据仍在回传",
    ),
    summary=T(
        "The client sends its input and ends its direction; the server answers after end of input",
        "客户端发完输入并结束自己的方向；服务器在输入结束后作答",
    ),
    intro=T(
        "A FIN ends one direction only. shutdown(SHUT_WR) sends it without giving up the "
        "connection: the application can go on reading (RFC 9293 3.6.1). This is how a client says "
        '"that is all my input" when the answer depends on all of it, as with '
        "`ssh host sort < file`: the server cannot answer before it has seen the end of the input.",
        "FIN 只结束一个方向。shutdown(SHUT_WR) 发送 FIN 但不放弃连接：应用程序还可以继续读取"
        "（RFC 9293 3.6.1）。当回答取决于全部输入时，客户端就这样表示“我的输入就这些了”，"
        "例如 ssh host sort < file：服务器在看到输入结束之前无法作答。",
    ),
    run=lambda params: [_half_close(params)],
)

LINES = b"pear\napple\nfig\n"
SORT_TIME = 100 * MS


def _half_close(params: Params) -> Part:
    lab = Lab(params)
    lab.listen("server")
    lab.link()
    answer = bytearray()
    request = bytearray()

    def client(conn: Connection | Listener, event: Event) -> None:
        if not isinstance(conn, Connection):
            return
        if isinstance(event, Established):
            conn.send(LINES, lab.now)
            conn.shutdown(1, lab.now)  # SHUT_WR: end of input; keep reading
        elif isinstance(event, Readable | PeerFinished):
            ended = drain(conn, answer)
            if ended and isinstance(event, PeerFinished):
                conn.close(lab.now)

    def server(conn: Connection | Listener, event: Event) -> None:
        if isinstance(conn, Connection) and isinstance(event, Readable | PeerFinished):
            ended = drain(conn, request)
            if ended and isinstance(event, PeerFinished):

                def reply() -> None:
                    conn.send(b"".join(sorted(bytes(request).splitlines(True))), lab.now)
                    conn.close(lab.now)

                lab.after(SORT_TIME, reply)

    lab.on("client", client)
    lab.on("server", server)
    lab.connect("client")
    lab.run()
    client_fin_time = next((r.time for r in lab.sent("client") if r.segment.flags & FIN), None)
    server_data = [r.time for r in lab.sent("server") if r.segment.payload]
    return lab.part(
        T(
            "the client sends lines to sort, ends its direction, and reads the sorted lines",
            "客户端发送待排序的行，结束自己的方向，然后读取排好序的行",
        ),
        T(
            "The server's application reads until the end of the stream, sorts ({sort}), sends "
            "the result and closes. The client reads until the end of the stream and closes.",
            "服务器的应用程序一直读到流结束，排序（{sort}），发送结果后关闭。"
            "客户端一直读到流结束后关闭。",
        ).filled(sort=f"{SORT_TIME // MS} ms"),
        remarks=[
            Remark(
                "data-fin",
                T(
                    "The client will send nothing more, but it keeps its receiving direction "
                    "open: FIN-WAIT-1, then FIN-WAIT-2, both of which still receive.",
                    "客户端不再发送任何数据，但它的接收方向仍然打开：FIN-WAIT-1、FIN-WAIT-2 "
                    "两个状态都还能接收。",
                ),
                host="client",
                after=True,
            ),
            Remark(
                "fin",
                T(
                    "The client will send nothing more, but it keeps its receiving direction "
                    "open: FIN-WAIT-1, then FIN-WAIT-2, both of which still receive.",
                    "客户端不再发送任何数据，但它的接收方向仍然打开：FIN-WAIT-1、FIN-WAIT-2 "
                    "两个状态都还能接收。",
                ),
                host="client",
                after=True,
            ),
            Remark(
                "data-fin",
                T(
                    "The server could not answer before the end of the input. The half-closed "
                    "client, in FIN-WAIT-2, receives the answer.",
                    "服务器在输入结束之前无法作答。已经半关闭、处于 "
                    "FIN-WAIT-2 的客户端收到了回答。",
                ),
                host="server",
                after=True,
            ),
            Remark(
                "data",
                T(
                    "The server could not answer before the end of the input. The half-closed "
                    "client, in FIN-WAIT-2, receives the answer.",
                    "服务器在输入结束之前无法作答。已经半关闭、处于 "
                    "FIN-WAIT-2 的客户端收到了回答。",
                ),
                host="server",
                after=True,
            ),
        ],
        facts=[
            Fact(
                client_fin_time is not None
                and bool(server_data)
                and all(time > client_fin_time for time in server_data),
                T(
                    "The client's FIN left before any data came back.",
                    "客户端的 FIN 在任何数据返回之前就发出了。",
                ),
            ),
            Fact(
                bytes(answer) == b"apple\nfig\npear\n",
                T(
                    "The half-closed client still received the whole sorted answer.",
                    "已经半关闭的客户端仍然收到了完整的排序结果。",
                ),
            ),
        ],
    )


SCENARIOS = [CLOSE, WHY_FOUR, SIMULTANEOUS_CLOSE, HALF_CLOSE]
