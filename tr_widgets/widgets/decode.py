"""DecodeStepper: token-by-token generation, one clock tick per step, with the KV cache in view.

Panels, top to bottom: the text so far with the new token (and the model's top-k candidates); the new
query's attention over the cache, every head of the selected layer (heads × positions, the appended
position marked) and the selected head as bars; the KV cache itself (layers × positions: reused,
appended this tick, not yet filled), growing by one column per tick; the timeline of tick times.
"""
from __future__ import annotations


import ipywidgets as w
import numpy as np

from ..engine.decode import DecodeTrace
from ..views import quantize, value_range
from ..views.decode import cache_strip, text_parts, tick_view, timeline
from ..views.matrix import Window
from .attention import fit_cells, fold, has, scrolling, set_series, short_labels, wrap_row
from .base import COMMON_OPTIONS, Stepper, int_in, is_bool
from .bars import BarsCanvas
from .canvas import HTMLPanel, MatrixCanvas
from .markup import BAD, count, decode_strip, decode_text, index_of, text_block

STRIP = 24  # most recent positions listed with their tokens (the canvas shows the whole window)


def kinds_of(trace) -> str:
    """How positions differ at a tick. Example: ``kinds_of(trace)  # 'reused or appended'``"""
    return "reused or appended" if trace.use_cache else "recomputed"


class DecodeStepper(Stepper):
    """Step through a :class:`~tr_widgets.engine.decode.DecodeTrace` one tick (token) at a time.

    Example::

        model, tok = tr_widgets.models.load_tiny()
        s = DecodeStepper(decode(model, "The cat sat on the", 5, tokenizer=tok), head=1)
        s.step = 2; s.select(layer=1)      # tick 2 of layer 1: every panel follows
    """

    OPTIONS = {**COMMON_OPTIONS,
               "text_tokens": (*int_in(8, 512), "text_tokens=64 (tokens of text shown before the new one)", 64),
               "timeline": (is_bool, "True or False",
                            "timeline=False (hide the measured tick times, e.g. for reproducible snapshots)", True)}

    def __init__(self, trace: DecodeTrace, **options):
        super().__init__(trace, **options)

    def _axes(self):
        return [("layer", [str(i) for i in range(max(self.trace.num_layers, 1))]),
                ("head", [str(i) for i in range(max(self.trace.num_heads, 1))])]

    def _n_steps(self) -> int:
        return len(self.trace)

    def _step_name(self) -> str:
        return "tick"

    def _build(self) -> None:
        o = self.options
        self.window, self.overview_px, self.text_tokens, self.show_timeline = (
            o["window"], o["overview_px"], o["text_tokens"], o["timeline"])
        self.text = scrolling(HTMLPanel())
        self.text.add_class("tr-decode-text")
        self.row = MatrixCanvas(title="", row_axis="head", col_axis="position", layout=w.Layout(max_width="400px"))
        self.strip = scrolling(HTMLPanel())
        self.strip.add_class("tr-decode-strip")
        self.bars = BarsCanvas(title="", layout=w.Layout(max_width="300px"))  # beside the heads
        # at most about half the cell: the tick times sit beside it (one screen in all)
        self.cache = MatrixCanvas(title="", row_axis="layer", col_axis="position", layout=w.Layout(max_width="340px"))
        self.times = BarsCanvas(title="", layout=w.Layout(max_width="360px"))  # beside the cache
        # one screen: the text, the heads beside the selected head's bars, the cache beside the tick
        # times; the per-token strip (the same weights, token by token) opens on a click
        self.panels = [self.text, wrap_row([self.row, self.bars]),
                       wrap_row([self.cache] + ([self.times] if self.show_timeline else [])),
                       fold([self.strip], [f"the newest positions one by one: token, weight, {kinds_of(self.trace)}"])]
        if not self.trace.layer_names:
            self.panels.insert(1, w.HTML(text_block(
                f"{self.trace.model_name} made no F.scaled_dot_product_attention call: no attention to show "
                "(Hugging Face models: load with attn_implementation='sdpa').", BAD)))

    def _update(self, step: int, new_selection: bool) -> None:
        tr, t = self.trace, step
        layer, head = self.controller.selection.get("layer", 0), self.controller.selection.get("head", 0)
        tk = tr.ticks[t]
        self.text.value = self._text_html(t)
        if tr.layer_names:
            self._set_attention(t, layer, head)
        self._set_cache(t)
        if self.show_timeline:
            self._set_times(t)
        how = (f"{len(tk.reused)} reused from the cache, {len(tk.appended)} appended" if tr.use_cache
               else "no cache: " + ("the one position" if len(tk.appended) == 1 else f"all {len(tk.appended)} positions")
               + " recomputed")
        self.controller.set_caption(
            f"tick {index_of(t, len(tr))}: position {tk.query_position} “{tr.tokens[tk.query_position]}” → "
            f"“{tk.token}” (p = {tk.topk_probs[0]:.3f}) · layer {layer}, head {head} · {how}", t)

    def _text_html(self, t: int) -> str:
        tr = self.trace
        mode = (f"sampled (seed {tr.seed}, temperature {tr.temperature:g})" if tr.sample
                else "greedy: the most probable candidate")
        return decode_text(t, text_parts(tr, t, self.text_tokens), tr.ticks[t], mode, len(tr))

    def _set_attention(self, t: int, layer: int, head: int) -> None:
        tv = tick_view(self.trace, t, layer, head, window=self.window)
        win, (H, S) = tv.window, (tv.head_weights.shape[0], tv.keys)
        vmin, vmax = value_range(tv.head_weights, signed=False)
        n_new = int((~tv.reused).sum()) if self.trace.use_cache else 1
        first_new = int(np.argmax(~tv.reused)) if self.trace.use_cache else len(tv.reused) - 1
        where = (f"{int(tv.reused.sum())} reused (cache), {n_new} appended (highlighted)" if self.trace.use_cache
                 else "no cache: every key recomputed this tick; the query's own position highlighted")
        with self.row.hold_sync():
            fit_cells(self.row, H, win.c1 - win.c0, 320, 12)
            self.row.title = (f"tick {t}: the new query (position {tv.query_position}) over {count(S, 'key')}, "
                              f"every head of layer {layer} (one colour range for all heads; the selected head "
                              f"marked); {where}")
            self.row.set_window(quantize(tv.head_weights, vmin, vmax), Window(0, H, win.c0, win.c1), (H, S),
                                vmin, vmax, [f"head {h}" for h in range(H)], short_labels(tv.labels, 0, len(tv.labels)))
            self.row.mark_row = head
            if has(self.row, "highlight_col"):  # the appended position is "new": highlight, not the mark
                self.row.highlight_col, self.row.mark_col = win.c0 + first_new, -1
            else:
                self.row.mark_col = win.c0 + first_new
            self.row.step = t
        self.strip.value = decode_strip(tv, self.trace.use_cache, STRIP)
        kinds = "reused from the cache" if self.trace.use_cache else "recomputed"
        note = f"positions {win.c0}–{win.c1 - 1} (0–{S - 1}); bars before the highlighted one: {kinds}"
        top = ", ".join(f"{p} “{lbl}” {wt:.2f}" for p, lbl, wt in tv.top[:3])
        largest = "largest" if len(tv.top[:3]) == 1 else f"{len(tv.top[:3])} largest"
        with self.bars.hold_sync():
            self.bars.title = f"head {head}: weight on each position ({largest}: {top})"
            # the highlight here is the new token, not the largest weight: the legend says so
            self.bars.texts = {**self.bars.texts, "highlight": "orange dashed: the new token"}
            set_series(self.bars, [(f"w over the cache, layer {layer} head {head}", tv.weights, None, -1, note)],
                       highlights=[first_new])
            self.bars.step = t

    def _set_cache(self, t: int) -> None:
        tr, tk = self.trace, self.trace.ticks[t]
        strip, (_, fc) = cache_strip(tr, t, self.overview_px)
        L, C = strip.shape
        lengths = ", ".join(str(n) for n in (tk.layer_keys or (tk.keys,)))
        what = (f"KV cache after tick {t}: {tk.cache_len} positions per layer ({lengths}); "
                "teal = reused, yellow = appended this tick, grey = not computed yet" if tr.use_cache else
                f"no KV cache: tick {t} recomputed keys and values of all {len(tk.appended)} positions, "
                "then dropped them (yellow = recomputed, grey = not reached yet)")
        full = tk.query_position + 1
        # pooled columns have no single label; positions not reached yet get none (no spoilers)
        labels = (short_labels(tr.tokens, 0, full) + [""] * (C - full)) if fc == 1 else None
        with self.cache.hold_sync():
            fit_cells(self.cache, L, C, 320, 10)
            self.cache.title = what + (f" (columns pooled ×{fc})" if fc > 1 else "")
            self.cache.set_window(quantize(strip, 0.0, 1.0, strip == 0), Window(0, L, 0, C), (L, C), 0.0, 1.0,
                                  [f"layer {i}" for i in range(L)], labels)
            self.cache.mark_col = (full - 1) // fc
            self.cache.mark_row = self.controller.selection.get("layer", 0)
            self.cache.step = t

    def _set_times(self, t: int) -> None:
        ms = timeline(self.trace)
        lengths = np.asarray(self.trace.cache_lengths if self.trace.use_cache else
                             [tk.query_position + 1 for tk in self.trace.ticks], dtype=np.float32)
        sync = " (CUDA synchronised)" if self.trace.device.startswith("cuda") else ""
        with self.times.hold_sync():
            self.times.arrow = ""  # two charts side by side, nothing flows from one into the other
            self.times.title = f"timeline: wall time of each tick{sync}; tick {t} = {ms[t]:.2f} ms"
            set_series(self.times, [
                ("ms per tick", ms, None, t, "tick 0 reads the whole prompt"),
                ("cache length" if self.trace.use_cache else "positions recomputed", lengths, None, t, "per tick")],
                groups=[[0], [1]], units={0: "ms", 1: "positions"})
            self.times.step = t

