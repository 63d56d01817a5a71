"""Bytes the steppers send to the browser, counted on their comms (no browser needed).

Goals (issue 3, section 5):
- an AttentionStepper over T=1024 with 4 heads sends ≤ 64 KiB per step change;
- a T=4096 view opens with ≤ 1 MiB sent.

Every widget's comm is replaced by a recording one (``tr_widgets.testing.commlog``) that keeps the
size of each message: its JSON (state, buffer paths, metadata) plus its binary buffers. The fixed
Jupyter envelope (headers, HMAC signature: a few hundred bytes per message) is not counted; the
message counts are printed so it can be added. Step changes sweep steps 1..N in order (most move a
marker; every 96th moves the matrix window) plus a few long jumps.

How many frames a chunk holds depends on how long drawing one takes (``stream.CHUNK_SECONDS``), so on a busy
machine a slower draw sends smaller chunks and more bytes per step. ``--by-bytes`` sizes chunks by bytes alone
(what the frames weigh, whatever the load: compare two trees with it). ``--traits`` prints what the view sends
to open, per widget model and trait (the JSON of its value, or its binary buffers), largest first.

    python benchmarks/bench_widget_bytes.py [--steps 400] [--by-bytes] [--traits 12]
    PYTHONPATH=/other/tree python /other/tree/benchmarks/bench_widget_bytes.py --by-bytes   # the code before
"""
from __future__ import annotations

import argparse
import collections
import json
import pathlib
import statistics
import sys

import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import tr_widgets  # noqa: E402
from common import table  # noqa: E402
from tr_widgets.widgets import show  # noqa: E402
from tr_widgets.testing import commlog  # noqa: E402
from tr_widgets.testing.commlog import record_comms  # noqa: E402

KiB, MiB = 1024, 1024 * 1024


def attention(T: int, heads: int, E: int = 64):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, heads, T, E, generator=g) for _ in range(3))  # each [B=1, heads, T, E]
    return tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=[f"tok{i}" for i in range(T)])


def recurrent(T: int, H: int = 256):
    torch.manual_seed(0)
    return tr_widgets.trace_recurrent(nn.LSTM(32, H), torch.randn(T, 1, 32))


def by_trait(sizes: collections.Counter):
    """Patch the recording comm so that ``sizes[(model, trait)]`` gains each message's bytes per trait."""
    publish = commlog.RecordingComm.publish_msg

    def recorded(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        publish(self, msg_type, data, metadata, buffers, **keys)
        d = data if isinstance(data, dict) else {}
        state = d.get("state", {})  # an anywidget by its class (BarsCanvas), another by its model (HTMLModel)
        model = state.get("_anywidget_id", "").rpartition(".")[2] or state.get("_model_name", "")
        self._trw_model = getattr(self, "_trw_model", None) or model or "?"
        for name, value in state.items():
            sizes[(self._trw_model, name)] += len(json.dumps(value, separators=(",", ":"), default=str).encode())
        for path, buf in zip(d.get("buffer_paths", []), buffers or []):
            sizes[(self._trw_model, path[0])] += memoryview(buf).nbytes
    commlog.RecordingComm.publish_msg = recorded


def measure(trace, steps: int, traits: collections.Counter | None = None) -> dict:
    """Open bytes, then the bytes of each step change (in order, then long jumps), then a selector change.
    ``traits``: the Counter :func:`by_trait` fills; the result's "traits" is what the view sent to open."""
    if traits is not None:
        traits.clear()
    with record_comms() as log:
        s = show(trace, progress=False)
    opened, open_msgs, by_name = log.total(), log.count(), collections.Counter(traits or {})
    n = s.controller.n_steps
    sizes, msgs = [], []
    for i in list(range(1, min(steps, n))) + [n - 1, 0, n // 2]:
        log.clear()
        s.step = i
        sizes.append(log.total())
        msgs.append(log.count())
    selector = next((name for name, dd in s.controller.selectors.items() if len(dd.options) > 1), None)
    sel = None
    if selector:
        log.clear()
        s.select(**{selector: 1})
        sel = (selector, log.total())
    return {"open": opened, "open_msgs": open_msgs, "step_max": max(sizes), "step_mean": statistics.mean(sizes),
            "step_median": statistics.median(sizes), "step_msgs": statistics.median(msgs), "selector": sel,
            "traits": by_name}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--by-bytes", action="store_true", help="chunks sized by bytes alone, not by drawing time")
    ap.add_argument("--traits", type=int, default=0, help="print the N largest (model, trait) sizes sent to open")
    a = ap.parse_args(argv)
    if a.by_bytes:
        from tr_widgets.widgets import stream
        stream.CHUNK_SECONDS = 1e9  # a chunk as many frames as CHUNK_BYTES holds (at most 32)
    traits = collections.Counter() if a.traits else None
    if traits is not None:
        by_trait(traits)
    cases = [("AttentionStepper T=1024, 4 heads", attention(1024, 4)),
             ("AttentionStepper T=4096, 4 heads", attention(4096, 4)),
             ("RecurrentStepper LSTM T=4096, H=256", recurrent(4096)),
             ("AttentionStepper T=16, 4 heads (small)", attention(16, 4))]
    results, rows = {}, []
    for name, trace in cases:
        r = results[name] = measure(trace, a.steps, traits)
        sel = f"{r['selector'][0]}: {r['selector'][1] / KiB:.1f}" if r["selector"] else "–"
        rows.append((name, f"{r['open'] / KiB:.1f} ({r['open_msgs']} msgs)", f"{r['step_median'] / KiB:.1f}",
                     f"{r['step_mean'] / KiB:.1f}", f"{r['step_max'] / KiB:.1f}", f"{r['step_msgs']:.0f}", sel))
    print(f"torch {torch.__version__}; payload bytes = JSON + binary buffers, Jupyter envelope not counted")
    print(table(rows, ("view", "open KiB", "step median KiB", "step mean KiB", "step max KiB",
                       "msgs/step", "selector change KiB")) + ("  (chunks by bytes)" if a.by_bytes else ""))
    for name in results if a.traits else ():
        top = results[name]["traits"].most_common(a.traits)
        print(f"{name}, to open: " + ", ".join(f"{m.removesuffix('Model')}.{k} {v / KiB:.1f}" for (m, k), v in top))
    att = results["AttentionStepper T=1024, 4 heads"]
    big = max(results["AttentionStepper T=4096, 4 heads"]["open"], results["RecurrentStepper LSTM T=4096, H=256"]["open"])
    ok1, ok2 = att["step_max"] <= 64 * KiB, big <= MiB
    print(f"T=1024 × 4 heads, worst step change: {att['step_max'] / KiB:.1f} KiB (goal ≤ 64 KiB) -> "
          f"{'OK' if ok1 else 'MISSED'}")
    print(f"T=4096 view opens with: {big / KiB:.1f} KiB (goal ≤ 1024 KiB) -> {'OK' if ok2 else 'MISSED'}")
    return results


if __name__ == "__main__":
    main()
