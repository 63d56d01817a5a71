"""Count what widgets send to the browser, without a browser: a comm that records its messages.

ipywidgets opens one comm per widget through ``comm.create_comm``; inside :func:`record_comms` that
returns a :class:`RecordingComm`, which keeps each message's JSON size and binary buffer sizes
(what the kernel would put on the wire, less the fixed Jupyter message envelope). Used by the
byte-budget tests and ``benchmarks/bench_widget_bytes.py``.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field

import comm
from comm.base_comm import BaseComm


@dataclass
class Message:
    """One recorded message: type (comm_open / comm_msg / comm_close), sizes and updated keys.

    Example: ``Message("comm_msg", "c1", json_bytes=120, buffer_bytes=80, keys=("step",)).nbytes == 200``
    """

    msg_type: str
    comm_id: str
    json_bytes: int
    buffer_bytes: int
    keys: tuple = ()

    @property
    def nbytes(self) -> int:
        return self.json_bytes + self.buffer_bytes


@dataclass
class CommLog:
    """Every message sent by the comms created inside :func:`record_comms`.

    Example::

        log = CommLog([Message("comm_msg", "c1", 120, 80, ("step",)), Message("comm_msg", "c1", 30, 0, ("value",))])
        log.total() == 230
        log.keys() == ["step", "value"]
    """

    messages: list[Message] = field(default_factory=list)

    def total(self) -> int:
        """Bytes sent (JSON + binary buffers) since the last :meth:`clear`."""
        return sum(m.nbytes for m in self.messages)

    def buffers(self) -> int:
        """Binary buffer bytes since the last :meth:`clear`."""
        return sum(m.buffer_bytes for m in self.messages)

    def count(self) -> int:
        return len(self.messages)

    def keys(self) -> list[str]:
        """The trait names updated since the last :meth:`clear`, in order."""
        return [k for m in self.messages for k in m.keys]

    def clear(self) -> None:
        self.messages.clear()


class RecordingComm(BaseComm):
    """A comm that sends nothing and records the size of everything it would send.

    Example::

        log = CommLog()
        c = RecordingComm(target_name="demo", data={"state": {"value": 1}}, log=log)   # records its comm_open
        c.send({"state": {"value": 2}}, buffers=[b"1234"])
        [(m.msg_type, m.buffer_bytes, m.keys) for m in log.messages][1] == ("comm_msg", 4, ("value",))
    """

    def __init__(self, *args, log: CommLog, **kwargs):
        self._log = log
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        payload = json.dumps({"data": data, "metadata": metadata}, separators=(",", ":"), default=str,
                             ensure_ascii=False).encode()
        data = data if isinstance(data, dict) else {}
        # Binary traits leave the JSON state for buffer_paths: count both as updated keys.
        keys = set(data.get("state", {})) | {p[0] for p in data.get("buffer_paths", []) if p}
        self._log.messages.append(Message(msg_type, self.comm_id, len(payload),
                                          sum(memoryview(b).nbytes for b in (buffers or [])),
                                          tuple(sorted(keys)) if msg_type == "comm_msg" else ()))


@contextlib.contextmanager
def record_comms():
    """Widgets created inside the block get recording comms; yields their shared :class:`CommLog`.

    Example::

        with record_comms() as log:
            s = show(trace, progress=False)
        opened = log.total(); log.clear()
        s.step = 1
        per_step = log.total()       # bytes one step change sends
    """
    log = CommLog()
    old = comm.create_comm
    comm.create_comm = lambda *a, **kw: RecordingComm(*a, log=log, **kw)
    try:
        yield log
    finally:
        comm.create_comm = old
