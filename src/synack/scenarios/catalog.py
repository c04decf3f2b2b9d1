"""The narrator's sentences, in English and Chinese, by step kind.

``synack.scenarios.narrate`` picks a kind for each step of a trace (a
segment sent, a segment arriving, a timer, a call) and fills its sentence
with the step's parameters: ``who`` and ``peer`` (host names), ``seq``,
``ack``, ``isn``, ``length``, ``end``, ``call``, ``states``, ``waited``...
Scenarios may replace any line with a ``Remark`` of their own.
"""

# Chinese text uses full-width punctuation on purpose:
# ruff: noqa: RUF001

from __future__ import annotations

from synack.scenarios.text import T
from synack.trace.records import DropReason

STEPS: dict[str, T] = {
    # --- opening --------------------------------------------------------------------
    "syn": T(
        "{call}{who} sends SYN: seq={seq}, its initial sequence number (ISN {isn}).",
        "{call}{who}发送 SYN：seq={seq}，即它的初始序号（ISN {isn}）。",
    ),
    "syn-rtx": T(
        "No answer within the retransmission timeout: {who} sends its SYN again.",
        "在重传超时之内没有回应：{who}再次发送 SYN。",
    ),
    "synack": T(
        "{who} answers SYN,ACK: its own ISN (seq={seq}, ISN {isn}) and ack={ack}, "
        "{peer}'s ISN + 1: the SYN is acknowledged.",
        "{who}回复 SYN,ACK：带上自己的 ISN（seq={seq}，ISN {isn}），ack={ack} 即{peer}的 "
        "ISN+1，表示 SYN 已收到。",
    ),
    "synack-crossed": T(
        "{who} got {peer}'s SYN while in SYN-SENT: it sends its SYN again, now with ACK: "
        "seq={seq} is still its ISN, ack={ack} acknowledges {peer}'s SYN.",
        "{who}在 SYN-SENT 中收到了{peer}的 SYN：它再次发送自己的 SYN，这次带上 ACK："
        "seq={seq} 仍是它的 ISN，ack={ack} 确认{peer}的 SYN。",
    ),
    "synack-rtx": T(
        "{who} sends its SYN,ACK again (seq={seq}, ack={ack}).",
        "{who}再次发送 SYN,ACK（seq={seq}，ack={ack}）。",
    ),
    "handshake-ack": T(
        "{who} acknowledges {peer}'s SYN: ack={ack}. The third segment of the handshake.",
        "{who}确认{peer}的 SYN：ack={ack}。这是三次握手的第三个报文段。",
    ),
    "handshake-ack-again": T(
        "{who} acknowledges {peer}'s repeated SYN,ACK again: ack={ack}.",
        "{who}再次确认{peer}重复发来的 SYN,ACK：ack={ack}。",
    ),
    # --- data -------------------------------------------------------------------------
    "data": T(
        "{who} sends {length} bytes: seq={seq}, so the next byte is {end}.",
        "{who}发送 {length} 字节数据：seq={seq}，下一个字节的序号是 {end}。",
    ),
    "data-fin": T(
        "{call}{who} sends its last {length} bytes with FIN: seq={seq}; the FIN takes "
        "sequence number {end}.",
        "{call}{who}发送最后 {length} 字节并带上 FIN：seq={seq}；FIN 占用序号 {end}。",
    ),
    "data-rtx-fast": T(
        "The third duplicate ACK: {who} resends seq={seq} at once, without waiting for "
        "the timer (fast retransmit, RFC 5681 3.2).",
        "第三个重复 ACK：{who}立即重传 seq={seq}，不等重传定时器（快速重传，RFC 5681 3.2）。",
    ),
    "data-rtx-rto": T(
        "The retransmission timer fires, {waited} after seq={seq} left: no ACK covers it, "
        "so {who} sends it again and doubles its timer (RFC 6298 5.4, 5.5).",
        "重传定时器到期，距 seq={seq} 发出已过 {waited}：没有 ACK 覆盖它，"
        "{who}重传它并把定时器加倍（RFC 6298 5.4、5.5）。",
    ),
    "data-rtx-backoff": T(
        "The timer fires again, {waited} later this time (exponential backoff): "
        "{who} sends seq={seq} once more.",
        "定时器再次到期，这次间隔 {waited}（指数退避）：{who}又一次发送 seq={seq}。",
    ),
    "data-rtx": T(
        "{who} resends seq={seq} ({length} bytes).",
        "{who}重传 seq={seq}（{length} 字节）。",
    ),
    "ack": T(
        "{who} acknowledges: ack={ack}, every byte before it has arrived.",
        "{who}发送确认：ack={ack}，此前的字节都已收到。",
    ),
    "ack-recovered": T(
        "{who}'s ACK jumps to ack={ack}: the retransmission filled the hole, and the data "
        "that had arrived beyond it is acknowledged at once.",
        "{who}的 ACK 一下跳到 ack={ack}：重传填补了空洞，之前已经到达的后续数据也一并得到确认。",
    ),
    "dupack": T(
        "Duplicate ACK #{n} from {who}: still ack={ack}{sack}: a later segment arrived, "
        "the one at {ack} did not.",
        "{who}发出第 {n} 个重复 ACK：仍然是 ack={ack}{sack}：后面的报文段到了，"
        "{ack} 处的那个没到。",
    ),
    # --- closing ----------------------------------------------------------------------
    "fin": T(
        "{call}{who} sends FIN: seq={seq}. It has nothing more to send; the FIN takes "
        "one sequence number.",
        "{call}{who}发送 FIN：seq={seq}。它不再发送数据；FIN 占用一个序号。",
    ),
    "fin-ack-fin": T(
        "{call}{who} sends FIN with ack={ack}: one segment acknowledges {peer}'s FIN and "
        "ends {who}'s side too.",
        "{call}{who}发送带 ack={ack} 的 FIN：一个报文段既确认{peer}的 FIN，又结束自己这一方向。",
    ),
    "fin-rtx": T(
        "No ACK for its FIN within the retransmission timeout: {who} sends the FIN again.",
        "在重传超时之内没有收到对 FIN 的确认：{who}重传 FIN。",
    ),
    "ack-fin": T(
        "{delayed}{who} acknowledges {peer}'s FIN: ack={ack}.",
        "{delayed}{who}确认{peer}的 FIN：ack={ack}。",
    ),
    "ack-fin-again": T(
        "{who} acknowledges the repeated FIN again (ack={ack}) and, in TIME-WAIT, "
        "restarts its 2*MSL timer.",
        "{who}再次确认重复到达的 FIN（ack={ack}），并在 TIME-WAIT 中重新开始 2MSL 计时。",
    ),
    "timewait-over": T(
        "{waited} in TIME-WAIT (2*MSL) are over: {who} deletes the connection.",
        "TIME-WAIT（2MSL）的 {waited} 结束：{who}删除连接。",
    ),
    "finwait2-timeout": T(
        "{who} has waited {waited} in FIN-WAIT-2 for a FIN that never came: it gives up "
        "and deletes the connection (Linux's tcp_fin_timeout).",
        "{who}在 FIN-WAIT-2 中等了 {waited}，对方的 FIN 始终没有来：它放弃并删除连接"
        "（Linux 的 tcp_fin_timeout）。",
    ),
    # --- resets -----------------------------------------------------------------------
    "rst-reply": T(
        "{who} has no connection for that segment and answers with RST (seq={seq}).",
        "{who}没有与这个报文段对应的连接，于是回复 RST（seq={seq}）。",
    ),
    "rst-abort": T(
        "{call}{who} sends RST and drops the connection at once: no FIN, no TIME-WAIT.",
        "{call}{who}发送 RST 并立即丢弃连接：没有 FIN，也没有 TIME-WAIT。",
    ),
    "rst-unread": T(
        "{call}with unread data in its receive buffer, {who} sends RST instead of FIN "
        "(RFC 9293 3.6.1): {peer} learns that data was lost.",
        "{call}接收缓冲区里还有未读的数据，{who}发送 RST 而不是 FIN（RFC 9293 3.6.1）："
        "让{peer}知道有数据被丢弃了。",
    ),
    "rst": T(
        "{who} sends RST (seq={seq}).",
        "{who}发送 RST（seq={seq}）。",
    ),
    # --- arrivals, calls, timers, states ----------------------------------------------
    "arrival": T(
        "The {what} reaches {who}: {states}.",
        "{what}到达{who}：{states}。",
    ),
    "listen": T(
        "{who} listens on {where}: a passive open, waiting for a SYN.",
        "{who}在 {where} 上监听：被动打开，等待 SYN。",
    ),
    "call-closed": T(
        "{who} calls {call} in {old}: the connection is deleted and nothing is sent.",
        "{who}在 {old} 状态调用 {call}：连接被删除，不发送任何报文段。",
    ),
    "call": T("{who} calls {call}.", "{who}调用 {call}。"),
    "timer": T("{who}: the {timer} timer fires.", "{who}：{timer} 定时器到期。"),
    "state": T("{who}: {states} ({cause}).", "{who}：{states}（{cause}）。"),
}

#: Pieces the sentences above are built with.
PIECES: dict[str, T] = {
    "call": T("{call}: ", "{call}："),
    "delayed": T(
        "The delayed-ACK timer fires with nothing to send: ",
        "延迟确认定时器到期，没有数据可以捎带：",
    ),
    "states": T(" {who} is now {state}.", "{who}进入 {state}。"),
    "lost": T(" It is lost in the network.", "它在网络中丢失了。"),
    "dropped": T(" {peer} drops it: {reason}.", "{peer}丢弃了它：{reason}。"),
    "sack": T(", SACK {blocks}", "，SACK {blocks}"),
    "data": T("data", "数据"),
}

#: DropReason texts in Chinese (English uses ``DropReason.value``); reasons not
#: listed here are given in English in both languages.
DROP_REASONS_ZH: dict[DropReason, str] = {
    DropReason.NO_SOCKET: "没有对应的连接或监听者（在允许时回复 RST）",
    DropReason.CLOSED: "发给已关闭连接的报文段",
    DropReason.TIME_WAIT: "发给 TIME-WAIT 连接的报文段",
    DropReason.LISTEN_RST: "发给监听者的 RST",
    DropReason.LISTEN_ACK: "发给监听者的 ACK（回复 RST）",
    DropReason.DUPLICATE_SYN: "SYN-RECEIVED 中收到重复的 SYN（重发 SYN,ACK）",
    DropReason.SEQ_UNACCEPTABLE: "序号不在接收窗口内（回复 ACK）",
    DropReason.SYN_SENT_BAD_ACK: "SYN-SENT 中收到不可接受的 ACK（回复 RST）",
    DropReason.DATA_AFTER_FIN: "对方 FIN 之后的数据或 FIN",
    DropReason.PAWS: "时间戳比 TS.Recent 旧：PAWS（回复 ACK）",
    DropReason.RST_OUT_OF_WINDOW: "窗口外的 RST（RFC 5961）",
    DropReason.RST_CHALLENGED: "窗口内但不在 RCV.NXT 的 RST：挑战 ACK（RFC 5961）",
    DropReason.SYN_CHALLENGED: "同步状态中收到 SYN：挑战 ACK（RFC 5961）",
}


def drop_reason(reason: DropReason, lang: str) -> str:
    """The drop reason as the commentary gives it in ``lang``."""
    if lang == "zh":
        return DROP_REASONS_ZH.get(reason, reason.value)
    return reason.value
