"""Ending a connection with a reset: ``abort`` (SO_LINGER 0) and ``unread-close``."""

# Chinese text uses full-width punctuation on purpose:
# ruff: noqa: RUF001

from __future__ import annotations

from synack.scenarios.closing import REQUEST, delay_text, drain
from synack.scenarios.lab import Fact, Lab, Params, Part, Remark, Scenario
from synack.scenarios.text import T
from synack.tcp.config import MS
from synack.tcp.connection import Connection
from synack.tcp.events import Established, Event, Readable
from synack.tcp.stack import Listener
from synack.tcp.state import State
from synack.wire.tcp import TcpFlags

S = State
FIN, RST = TcpFlags.FIN, TcpFlags.RST

# --- abort ------------------------------------------------------------------------------------

ABORT = Scenario(
    name="abort",
    title=T("Abort: close() with SO_LINGER 0", "中止连接：SO_LINGER 为 0 的 close()"),
    summary=T(
        "A RST instead of a FIN: no close handshake, no TIME-WAIT, ECONNRESET at the peer",
        "用 RST 代替 FIN：没有挥手，没有 TIME-WAIT，对方得到 ECONNRESET",
    ),
    intro=T(
        "With SO_LINGER set to {on, 0}, close() becomes an abort (RFC 9293 3.10.5 ABORT): TCP "
        "sends a RST, discards whatever is still queued and deletes the connection at once. No "
        "FIN, and no TIME-WAIT on the aborting side; the peer's next call fails with "
        "ECONNRESET. Programs use it to shed connections fast and to avoid TIME-WAIT, at the "
        "cost of losing data in flight and an error at the peer.",
        "把 SO_LINGER 设为 {on, 0} 后，close() 就变成了中止（RFC 9293 3.10.5 ABORT）：TCP "
        "发送 RST，丢弃所有尚在队列中的数据并立即删除连接。没有 FIN，中止的一方也没有 "
        "TIME-WAIT；对方的下一次调用以 ECONNRESET 失败。程序用它来快速释放连接、避开 "
        "TIME-WAIT，代价是丢失传输中的数据，并让对方收到一个错误。",
    ),
    run=lambda params: [_abort(params)],
)

ANSWER = b"HTTP/1.0 200 OK\r\n\r\nhello\n"


def _abort(params: Params) -> Part:
    lab = Lab(params)
    lab.listen("server")
    lab.link()

    def client(conn: Connection | Listener, event: Event) -> None:
        if isinstance(conn, Connection):
            if isinstance(event, Established):
                conn.send(REQUEST, lab.now)
            elif isinstance(event, Readable):
                drain(conn)
                conn.abort(lab.now)  # close() with SO_LINGER {on, 0}

    def server(conn: Connection | Listener, event: Event) -> None:
        readable = isinstance(conn, Connection) and isinstance(event, Readable)
        if readable and isinstance(conn, Connection) and conn.state is S.ESTABLISHED:
            drain(conn)
            conn.send(ANSWER, lab.now)

    lab.on("client", client)
    lab.on("server", server)
    lab.connect("client")
    lab.run()
    segments = [r for host in ("client", "server") for r in lab.sent(host)]
    reset = any("ConnectionResetError" in str(o.params.get("error")) for o in lab.observations)
    return lab.part(
        T(
            "the client reads the server's answer, then aborts",
            "客户端读完服务器的回答后中止连接",
        ),
        T(
            "The client sends a request and, once it has read the answer, closes with "
            "SO_LINGER 0 (in synack: Connection.abort()). Each way the network takes {delay}.",
            "客户端发送请求，读完回答后以 SO_LINGER 0 关闭（在 synack 中即 Connection.abort()）。"
            "网络单程时延 {delay}。",
        ).filled(**delay_text(params)),
        remarks=[
            Remark(
                "rst-abort",
                T(
                    "Compare `synack demo close`: there the client spent 60 s in TIME-WAIT; here "
                    "its connection is gone the moment it aborts.",
                    "对比 synack demo close：那里客户端要在 TIME-WAIT 中度过 60 s；"
                    "这里连接在中止的那一刻就消失了。",
                ),
                host="client",
                after=True,
            ),
        ],
        facts=[
            Fact(
                lab.states("client")[-2:] == [S.ESTABLISHED, S.CLOSED]
                and S.TIME_WAIT not in lab.states("client"),
                T(
                    "The client went from ESTABLISHED straight "
                    "to CLOSED: no FIN-WAIT, no TIME-WAIT.",
                    "客户端从 ESTABLISHED 直接进入 CLOSED：没有 FIN-WAIT，也没有 TIME-WAIT。",
                ),
            ),
            Fact(
                not any(r.segment.flags & FIN for r in segments)
                and any(r.segment.flags & RST for r in lab.sent("client")),
                T("One RST, and no FIN from either side.", "只有一个 RST，双方都没有发送 FIN。"),
            ),
            Fact(
                reset,
                T(
                    "The server's application got ConnectionResetError (ECONNRESET).",
                    "服务器的应用程序得到了 ConnectionResetError（ECONNRESET）。",
                ),
            ),
        ],
    )


# --- unread-close -----------------------------------------------------------------------------

HEADER = b"POST /upload HTTP/1.0\r\n"
BODY = bytes(range(32, 127)) * 21  # about 2000 bytes
TOO_LARGE = b"HTTP/1.0 413 Payload Too Large\r\n\r\n"
CLOSE_DELAY = 5 * MS

UNREAD_CLOSE = Scenario(
    name="unread-close",
    title=T("close() with unread data sends RST", "带着未读数据调用 close() 会发送 RST"),
    summary=T(
        "The server closes without reading the whole request: RST instead of FIN",
        "服务器没有读完整个请求就关闭：发送 RST 而不是 FIN",
    ),
    intro=T(
        "When an application closes a connection while received data is still unread in its "
        "buffer, that data can reach no one. RFC 9293 says TCP should then send a RST, so that "
        "the peer learns its data was lost (3.6.1), and Linux does. A common way to meet it: a "
        "server answers an oversized request with an error and closes without reading the "
        "request's body; the client gets ECONNRESET, perhaps before it has read the error.",
        "如果应用程序在接收缓冲区里还有未读数据时关闭连接，这些数据就无法交给任何人了。"
        "RFC 9293 规定 TCP 此时应发送 RST，让对方知道它的数据丢失了（3.6.1），Linux 也是这样做的。"
        "常见的情形是：服务器对一个过大的请求返回错误，然后不读请求体就关闭；"
        "客户端会得到 ECONNRESET，甚至可能在读到那个错误之前。",
    ),
    run=lambda params: [_unread_close(params)],
)


def _unread_close(params: Params) -> Part:
    lab = Lab(params)
    lab.listen("server")
    lab.link()
    read_by_server = bytearray()
    answer = bytearray()
    unread = [0]

    def client(conn: Connection | Listener, event: Event) -> None:
        if isinstance(conn, Connection):
            if isinstance(event, Established):
                conn.send(HEADER + BODY, lab.now)
            elif isinstance(event, Readable):
                drain(conn, answer)
                lab.observe(
                    "client",
                    T(
                        "The client's application reads the answer: {answer}",
                        "客户端的应用程序读到了回答：{answer}",
                    ),
                    answer=TOO_LARGE.split(b"\r\n")[0].decode(),
                )

    def server(conn: Connection | Listener, event: Event) -> None:
        if isinstance(conn, Connection) and isinstance(event, Readable) and not read_by_server:
            read_by_server.extend(conn.recv(len(HEADER), lab.now))  # the request line only
            conn.send(TOO_LARGE, lab.now)

            def close() -> None:
                unread[0] = len(conn.receive_buffer)
                conn.close(lab.now)

            lab.after(CLOSE_DELAY, close)

    lab.on("client", client)
    lab.on("server", server)
    lab.connect("client")
    lab.run()
    server_sent = lab.sent("server")
    reset = any("ConnectionResetError" in str(o.params.get("error")) for o in lab.observations)
    return lab.part(
        T(
            "the server reads only the request line, answers 413 and closes",
            "服务器只读了请求行，回答 413 后关闭",
        ),
        T(
            "The client sends a request line and a {body}-byte body at once. The server's "
            'application reads the first line only, sends "413 Payload Too Large" and calls '
            "close() {delay_close} later, with the body unread.",
            "客户端一次发出请求行和 {body} 字节的请求体。服务器的应用程序只读第一行，"
            "发送“413 Payload Too Large”，{delay_close} 后调用 close()，请求体没有读。",
        ).filled(body=len(BODY), delay_close=f"{CLOSE_DELAY // MS} ms"),
        remarks=[
            Remark(
                "rst-unread",
                T(
                    'A FIN would say "all sent, end of stream"; this RST says "something went '
                    'wrong": the client cannot tell how much of its body was read.',
                    "FIN 的意思是“全部发完，流结束”；这个 RST 的意思是“出错了”："
                    "客户端无法知道它的请求体被读了多少。",
                ),
                host="server",
                after=True,
            ),
        ],
        facts=[
            Fact(
                unread[0] > 0
                and any(r.segment.flags & RST for r in server_sent)
                and not any(r.segment.flags & FIN for r in server_sent),
                T(
                    "The server's close() found {unread} unread bytes and sent RST, not FIN.",
                    "服务器的 close() 发现还有 {unread} 字节未读，于是发送了 RST 而不是 FIN。",
                ).filled(unread=unread[0]),
            ),
            Fact(
                reset,
                T(
                    "The client's application got ConnectionResetError (ECONNRESET) instead of "
                    "an end of stream.",
                    "客户端的应用程序得到的是 ConnectionResetError（ECONNRESET），而不是流结束。",
                ),
            ),
        ],
    )


SCENARIOS = [ABORT, UNREAD_CLOSE]
