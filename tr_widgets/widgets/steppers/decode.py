"""DecodeStepper: token-by-token generation, one clock tick per step, with the KV cache in view.

Panels, top to bottom: the text so far with the new token (and the model's top-k candidates); the new
query's attention over the cache, every head of the selected layer (heads × positions, the appended
position marked) and the selected head as bars; the KV cache itself (layers × positions: reused,
appended this tick, not yet filled), growing by one column per tick; the timeline of tick times.
"""
from __future__ import annotations


import ipywidgets as w
import numpy as np

from ...views import quantize, value_range
from ...views.decode import cache_strip, text_parts, tick_view, timeline
from ...views.matrix import Window
from ..layout import fit_cells, fold, matrix_width, scrolling, set_series, short_labels, wrap_row
from ..base import COMMON_OPTIONS, Stepper, int_in, is_bool
from ..panels import BarsCanvas, HTMLPanel, MatrixCanvas
from ...i18n import msg
from ..markup import counted, decode_strip, decode_text, index_of
from ..panel_looks import decode_looks, strip_looks

STRIP = 24  # most recent positions listed with their tokens (the canvas shows the whole window)


def kinds_of(trace) -> str:
    """How positions differ at a tick. Example: ``kinds_of(trace)  # 'reused or appended'``"""
    return msg("decode.kinds_cache") if trace.use_cache else msg("decode.kind_recomputed")


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

    def _axes(self):
        return [("layer", [str(i) for i in range(max(self.trace.num_layers, 1))]),
                ("head", [str(i) for i in range(max(self.trace.num_heads, 1))])]

    def _step_name(self) -> str:
        return msg("decode.step_name")

    def _build(self) -> None:
        o = self.options
        self.window, self.overview_px, self.text_tokens, self.show_timeline = (
            o["window"], o["overview_px"], o["text_tokens"], o["timeline"])
        self.text = scrolling(HTMLPanel())
        self.text.add_class("tr-decode-text")
        self.row = MatrixCanvas(title="", row_axis=msg("decode.axis_head"), col_axis=msg("decode.axis_position"))
        self.strip = scrolling(HTMLPanel())
        self.strip.add_class("tr-decode-strip")
        self.bars = BarsCanvas(title="", layout=w.Layout(max_width="300px"))  # beside the heads
        # at most about half the cell: the tick times sit beside it (one screen in all)
        self.cache = MatrixCanvas(title="", row_axis=msg("decode.axis_layer"), col_axis=msg("decode.axis_position"),
                                  colour_bar=False, layout=w.Layout(max_width="340px"))  # categories: its title names them
        self.times = BarsCanvas(title="", layout=w.Layout(max_width="360px"))  # beside the cache
        # one screen: the text, the heads beside the selected head's bars, the cache beside the tick
        # times; the per-token strip (the same weights, token by token) opens on a click
        self.panels = [self.text, wrap_row([self.row, self.bars]),
                       wrap_row([self.cache] + ([self.times] if self.show_timeline else [])),
                       fold([self.strip], [msg("decode.fold_strip", kinds=kinds_of(self.trace))])]
        if not self.trace.layer_names:
            self.panels.insert(1, HTMLPanel.notice(msg("decode.no_sdpa", model=self.trace.model_name), "bad", True))

    def _update(self, step: int, new_selection: bool) -> None:
        tr, t = self.trace, step
        layer, head = self.controller.selection.get("layer", 0), self.controller.selection.get("head", 0)
        tk = tr.ticks[t]
        self.text.show(*self._text(t))  # its Looks kept with its HTML: save() paints them
        if tr.layer_names:
            self._set_attention(t, layer, head)
        self._set_cache(t)
        if self.show_timeline:
            self._set_times(t)
        how = (msg("decode.how_cache", reused=len(tk.reused), appended=len(tk.appended)) if tr.use_cache
               else counted("decode.how_no_cache", len(tk.appended)))
        self.controller.set_caption(msg(
            "decode.caption", tick=index_of(t, len(tr)), position=tk.query_position, token=tr.tokens[tk.query_position],
            new=tk.token, p=f"{tk.topk_probs[0]:.3f}", layer=layer, head=head, how=how), t)

    def _text(self, t: int) -> tuple[str, tuple]:
        tr = self.trace
        mode = (msg("decode.mode_sampled", seed=tr.seed, temperature=f"{tr.temperature:g}") if tr.sample
                else msg("decode.mode_greedy"))
        parts = text_parts(tr, t, self.text_tokens)
        return decode_text(t, parts, tr.ticks[t], mode, len(tr)), decode_looks(t, parts, tr.ticks[t], mode, len(tr))

    def _set_attention(self, t: int, layer: int, head: int) -> None:
        tv = tick_view(self.trace, t, layer, head, window=self.window)
        win, (H, S) = tv.window, (tv.head_weights.shape[0], tv.keys)
        vmin, vmax = value_range(tv.head_weights, signed=False)
        n_new = int((~tv.reused).sum()) if self.trace.use_cache else 1
        first_new = int(np.argmax(~tv.reused)) if self.trace.use_cache else len(tv.reused) - 1
        where = (msg("decode.where_cache", reused=int(tv.reused.sum()), appended=n_new) if self.trace.use_cache
                 else msg("decode.where_no_cache"))
        with self.row.hold_sync():
            # one cell size for every tick (the widest window): frames replay the steps with it; as wide
            # as that window, so the selected head's bars sit beside it
            widest = min(self.window, max(tk.keys for tk in self.trace.ticks))
            fit_cells(self.row, H, widest)
            self.row.layout.max_width = f"{matrix_width(H, widest)}px"
            self.row.title = msg("decode.row_title", t=t, position=tv.query_position, keys=counted("count.key", S),
                                 layer=layer, where=where)
            self.row.set_window(quantize(tv.head_weights, vmin, vmax), Window(0, H, win.c0, win.c1), (H, S),
                                vmin, vmax, [msg("decode.head_label", h=h) for h in range(H)], short_labels(tv.labels, 0, len(tv.labels)))
            self.row.mark_row = head
            self.row.highlight_col, self.row.mark_col = win.c0 + first_new, -1  # the appended position: "new"
            self.row.step = t
        self.strip.show(decode_strip(tv, self.trace.use_cache, STRIP), strip_looks(tv, self.trace.use_cache, STRIP))
        kinds = msg("decode.kinds_before_cache") if self.trace.use_cache else msg("decode.kind_recomputed")
        note = msg("decode.bars_note", first=win.c0, last=win.c1 - 1, total_last=S - 1, kinds=kinds)
        top = ", ".join(f"{p} “{lbl}” {wt:.2f}" for p, lbl, wt in tv.top[:3])
        largest = counted("decode.largest", len(tv.top[:3]))
        with self.bars.hold_sync():
            self.bars.title = msg("decode.bars_title", head=head, largest=largest, top=top)
            # the highlight here is the new token, not the largest weight: the legend says so
            self.bars.texts = {**self.bars.texts, "highlight": msg("decode.highlight_new_token")}
            set_series(self.bars, [(msg("decode.bars_series", layer=layer, head=head), tv.weights, None, -1, note,
                                    first_new)])
            self.bars.step = t

    def _set_cache(self, t: int) -> None:
        tr, tk = self.trace, self.trace.ticks[t]
        strip, (_, fc) = cache_strip(tr, t, self.overview_px)
        L, C = strip.shape
        lengths = ", ".join(str(n) for n in (tk.layer_keys or (tk.keys,)))
        what = (msg("decode.cache_title", t=t, n=tk.cache_len, lengths=lengths) if tr.use_cache else
                msg("decode.cache_title_no_cache", t=t, n=len(tk.appended)))
        full = tk.query_position + 1
        # pooled columns have no single label; positions not reached yet get none (no spoilers)
        labels = (short_labels(tr.tokens, 0, full) + [""] * (C - full)) if fc == 1 else None
        with self.cache.hold_sync():
            fit_cells(self.cache, L, C)
            self.cache.title = what + (msg("decode.pooled", f=fc) if fc > 1 else "")
            self.cache.set_window(quantize(strip, 0.0, 1.0, strip == 0), Window(0, L, 0, C), (L, C), 0.0, 1.0,
                                  [msg("decode.layer_label", i=i) for i in range(L)], labels)
            self.cache.mark_col = (full - 1) // fc
            self.cache.mark_row = self.controller.selection.get("layer", 0)
            self.cache.step = t

    def _set_times(self, t: int) -> None:
        ms = timeline(self.trace)
        lengths = np.asarray(self.trace.cache_lengths if self.trace.use_cache else
                             [tk.query_position + 1 for tk in self.trace.ticks], dtype=np.float32)
        sync = msg("decode.cuda_sync") if self.trace.device.startswith("cuda") else ""
        with self.times.hold_sync():
            self.times.arrow = ""  # two charts side by side, nothing flows from one into the other
            self.times.title = msg("decode.times_title", sync=sync, t=t, ms=f"{ms[t]:.2f}")
            set_series(self.times, [
                (msg("decode.ms_per_tick"), ms, None, t, msg("decode.tick0_note")),
                (msg("decode.cache_length") if self.trace.use_cache else msg("decode.positions_recomputed"), lengths, None,
                 t, msg("decode.per_tick"))],
                groups=[[0], [1]], units={0: "ms", 1: msg("decode.unit_positions")})
            self.times.step = t

