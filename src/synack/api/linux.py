"""Linux's numeric values for the socket API constants synack understands.

Literal values (not taken from the ``socket`` module) so that packetdrill
scripts and traces mean the same thing on every platform.
"""

from __future__ import annotations

import errno

AF_INET = 2
AF_INET6 = 10
SOCK_STREAM = 1
SOCK_NONBLOCK = 0o4000
IPPROTO_IP = 0
IPPROTO_TCP = 6
IPPROTO_IPV6 = 41

SOL_SOCKET = 1
SOL_IP = 0
SOL_TCP = 6
SOL_IPV6 = 41

SO_REUSEADDR = 2
SO_ERROR = 4
SO_SNDBUF = 7
SO_RCVBUF = 8
SO_KEEPALIVE = 9
SO_OOBINLINE = 10
SO_LINGER = 13
SO_REUSEPORT = 15
SO_MEMINFO = 55

TCP_NODELAY = 1
TCP_MAXSEG = 2
TCP_CORK = 3
TCP_KEEPIDLE = 4
TCP_KEEPINTVL = 5
TCP_KEEPCNT = 6
TCP_LINGER2 = 8
TCP_INFO = 11
TCP_QUICKACK = 12
TCP_USER_TIMEOUT = 18

IP_TOS = 1
IP_MTU_DISCOVER = 10
IP_PMTUDISC_DONT = 0
IP_PMTUDISC_WANT = 1
IP_PMTUDISC_DO = 2
IPV6_TCLASS = 67

SHUT_RD = 0
SHUT_WR = 1
SHUT_RDWR = 2

MSG_OOB = 0x1
MSG_PEEK = 0x2
MSG_DONTWAIT = 0x40
MSG_WAITALL = 0x100
MSG_NOSIGNAL = 0x4000
MSG_MORE = 0x8000

O_RDONLY = 0
O_WRONLY = 1
O_RDWR = 2
O_NONBLOCK = 0o4000
F_GETFL = 3
F_SETFL = 4
FIONREAD = SIOCINQ = 0x541B
SIOCOUTQ = 0x5411
SIOCATMARK = 0x8905

# Linux's limits for buffer options (net.core.wmem_max / rmem_max defaults).
WMEM_MAX = 212_992
RMEM_MAX = 212_992
SOCK_MIN_SNDBUF = 4_608
SOCK_MIN_RCVBUF = 2_304
TCP_MSS_DEFAULT = 536
TCP_MIN_MSS = 88
MAX_TCP_WINDOW = 32_767

#: Names the packetdrill interpreter resolves, beside the errno names.
SYMBOLS: dict[str, int] = {
    name: value
    for name, value in globals().items()
    if name.isupper() and isinstance(value, int) and not name.startswith("_")
}
SYMBOLS.update({name: getattr(errno, name) for name in dir(errno) if name.startswith("E")})
SYMBOLS["EWOULDBLOCK"] = errno.EAGAIN
