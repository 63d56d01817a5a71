"""English messages: key -> template (``str.format`` placeholders). ``zh.py`` has the same keys.

This module holds the messages of the controls, canvases, views and magic, and merges in the steppers'
(``en_steppers.py``): ``MESSAGES`` is the one English catalogue.
"""
from . import en_steppers

MESSAGES = {
    # the step controls (static/player.js); keys under "control." travel to the browser as one dict
    "control.previous": "previous step",
    "control.next": "next step",
    "control.play": "play",
    "control.pause": "pause",
    "control.speed": "speed",
    "control.loading": "loading…",
    "control.steps_per_s": "{n} steps/s",
    "control.readout": "{name} {step} ({first}–{last})",
    "control.readout_symbol": "{name} = {step} ({first}–{last})",
    "control.save": "save picture",
    "control.save_short": "save",
    "control.stepper": "stepper: {name}",
    "control.keys": "← → step · Home, End: first, last · Space: play, pause",
    # the magic's help (%tr_step?); demos and options without an entry keep their own text
    "magic.help": """Watch a model compute one step at a time. Every form returns the widget: ``w = %tr_step ...``.

Demos ({demo_names}); ``%tr_step NAME --help`` prints one demo's options. Each
"stands for" block is plain Python after ``import torch, tr_widgets``:

{demo_docs}

  %tr_step EXPR
      Evaluates EXPR in your namespace under capture and shows what it recorded: {supported}.
      Several recorded: a dropdown of their names above the stepper. EXPR may also be a trace or a
      capture made earlier (``%tr_step tr``). Stands for:
        with tr_widgets.capture(scope=globals()) as rec:
            EXPR
        tr_widgets.show(rec.traces[0][1] if len(rec.traces) == 1 else rec)   # several: choose by name

  %tr_step grad MODULE X [--hx HX] [--loss LOSS]
      Your own nn.RNN / nn.LSTM / nn.GRU run backwards: dL/dh_t at every step, with LOSS a function of
      what the module returns (default ``{grad_loss}``). Stands for:
        {grad_code}

  %%tr_step
  CODE
      Runs the cell under capture (its variables stay defined) and shows what it recorded. A loop written
      in the cell itself (h = f(h, x) once per step, no module) is recorded too, as a LoopTrace. Stands for:
        with tr_widgets.capture(scope=globals()) as rec:
            CODE
        tr_widgets.show(rec.traces[0][1] if len(rec.traces) == 1 else rec)

Errors: an unknown demo, a bad option value or nothing recorded raise a one-line UsageError; an error
inside EXPR or CODE (a NameError, say) is raised as itself.
""",
    "magic.stands_for": "stands for:",
    "magic.default": "default: {value}",
    "magic.demo.lstm": "an LSTM: gates i, f, g, o, cell state and hidden state at every step",
    "magic.demo.gru": "a GRU: gates r, z, candidate n and hidden state at every step",
    "magic.demo.rnn": "an Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh) at every step",
    "magic.demo.attention": "scaled dot-product attention over a few tokens, one query at a time (random q, k, v)",
    "magic.demo.decode": "the shipped tiny GPT continues a prompt one token per tick, its KV cache growing in view",
    "magic.option.--input": "the sequence, one number per step (input size 1)",
    "magic.option.--hidden": "hidden size (1..256)",
    "magic.option.--layers": "stacked layers (1..4)",
    "magic.option.--bidirectional": "also run the sequence backwards",
    "magic.option.--backward": "run the clock backwards: dL/dh_t at every step (BPTT)",
    "magic.option.--seed": "torch.manual_seed (the weights, or q, k, v; with --sample the draws)",
    "magic.option.--nonlinearity": "tanh or relu",
    "magic.option.--tokens": "the words (1..64)",
    "magic.option.--dim": "size of q, k and v per head (1..64)",
    "magic.option.--heads": "heads (1..8)",
    "magic.option.--causal": "each query sees only itself and earlier tokens",
    "magic.option.--prompt": "the text to continue (words of the tiny model)",
    "magic.option.--new-tokens": "tokens to generate, one per tick (1..32)",
    "magic.option.--no-cache": "recompute every position at every tick (no KV cache)",
    "magic.option.--sample": "draw each token from the probabilities, not the top one",
    # the matrix canvas (static/matrix.js): keys under "matrix." travel to the browser as one dict
    "matrix.hover": "hover a cell for its value",
    "matrix.diverging": "red +, blue −",
    "matrix.sequential": "brighter = larger",
    "matrix.masked": "masked",
    "matrix.nonfinite": "NaN/inf",
    "matrix.approx": "≈",
    "matrix.bar": "colour bar",
    "matrix.units": "units",
    # the bar charts (static/bars.js): keys under "bars." travel to the browser; {placeholders} filled there
    "bars.signs": "red: positive · blue: negative",
    "bars.mark": "red outline: current step",
    "bars.highlight": "orange dashed: largest weight",
    "bars.blocked": "grey hatched: masked out",
    "bars.hint": "hover a bar: its index and value",
    "bars.hover": "{name} [{i}] (0–{last}) = {value}",
    "bars.shared": "scale shared by {group}",
    "bars.nonfinite": "NaN or inf",
    # what the canvases write in Python (snapshots, default axis names)
    "canvas.row": "row",
    "canvas.col": "col",
    "canvas.empty": "{title}: (empty)",
    "canvas.overview_alt": "overview of {title}",
    # views: overviews and windows of long axes
    "view.overview_whole": "overview: the whole {rows}×{cols} matrix, not reduced",
    "view.overview_reduced": "overview: {rows}×{cols} reduced to {out_rows}×{out_cols} by max-pooling {fr}×{fc} blocks (largest |value| kept)",
    "view.overview_filling": "computing the overview: {pct}% of its rows done ({rows} of {total}); steps work meanwhile · {notice}",
    "view.range_note": "{axis} {first}–{last} of 0–{full_last}",
    "notes.title": "Note",
    # counted nouns: "<key>.one" for n == 1, "<key>.many" otherwise (markup.counted)
    "count.step.one": "{n} step",
    "count.step.many": "{n} steps",
    "count.masked_key.one": "{n} masked key",
    "count.masked_key.many": "{n} masked keys",
    # the equations tables (recurrent and gradient steppers)
    "equations.unit": "unit {j}",
    "equations.equation": "equation (torch)",
    # recurrent steppers
    "recurrent.forward": "forward",
    "recurrent.reverse": "reverse",
    "recurrent.graph_aria": "unrolled computation graph up to step {t}",
    "recurrent.graph_earlier": "earlier",
    "recurrent.graph_later": "later",
    "recurrent.graph_caption": "unrolled computation graph: one node {state} per step, edges hₜ₋₁→hₜ and xₜ→hₜ; {steps} computed so far ({first}–{last} of 0–{total_last}), ‖h‖ under each node",
    # attention: the o_i table and its cross-checks
    "attention.col_key": "key j",
    "attention.col_token": "token",
    "attention.other.one": "the other term",
    "attention.other.many": "the other {n} terms, summed",
    "attention.other_masked": " ({keys}: w_ij = 0)",
    "attention.ref_sdpa": "torch SDPA, row {i}",
    "attention.ref_scan": "the scan's own output, row {i}",
    "attention.sum_no_softmax": "no softmax: the rows need not sum to 1 (Σ_j w_ij = {sum}); later keys weigh {later}",
    "attention.sum_all_masked": "every key is masked: all weights 0 (Σ_j w_ij = {sum}), as SDPA does",
    "attention.sum": "Σ_j w_ij = {sum} (|1 − Σ| = {gap})",
    "attention.check_sdpa": "max |o_i − SDPA_i| = {diff} (tolerance {tol})",
    "attention.top_none": "no open key",
    "attention.top.one": "the largest weight",
    "attention.top.many": "the {n} largest weights",
    "attention.output_title": "o_{i} = Σ_j w_ij v_j: {which}",
    # decode: the text panel and the per-token strip
    "decode.earlier_tokens.one": "… {n} earlier token",
    "decode.earlier_tokens.many": "… {n} earlier tokens",
    "decode.candidate": "candidate",
    "decode.text_title": "tick {tick}: the model reads positions 0–{last} and writes one token",
    "decode.key_title": "position {pos}: {kind}",
    "decode.kind_appended": "appended",
    "decode.kind_reused": "reused",
    "decode.kind_recomputed": "recomputed",
    "decode.strip_earlier": "… {n} earlier",
    "decode.strip_legend": "thin border: reused from the cache · orange border: appended this tick · shade: weight of head {head}",
    "decode.strip_legend_no_cache": "no cache: every position recomputed · orange: the query's own position · shade: weight of head {head}",
    # gradients (views.gradients): formulas in ``str.format`` templates write braces doubled
    "gradients.factor_gru": "z_t update gate (the leak h_{{t-1}} → h_t)",
    "gradients.factor_lstm": "f_t forget gate",
    "gradients.eq_dh": "δh_t = δh_t(direct) + δh_t(from the step before)",
    "gradients.eq_dc": "δc_t = f_{{t+1}} ⊙ δc_{{t+1}} + δc_t(via h_t)",
    "gradients.eq_leak": "leak: z_t ⊙ δh_t",
    "gradients.dh_direct": "δh_t direct (loss / layer above)",
    "gradients.dh_from_next": "δh_t from t+1",
    "gradients.dh_arriving": "δh_t = ∂L/∂h_t arriving",
    "gradients.da_lstm": "δa_t of i, f, g, o (what W_hhᵀ multiplies)",
    "gradients.da_gru": "δ(W_hh h + b_hh) of r, z, n",
    "gradients.dh_leaving_lstm": "δh_{{t-1}} ← W_hhᵀ δa_t leaving",
    "gradients.dh_leaving": "δh_{{t-1}} leaving",
    "gradients.dc_via_c": "δc_t via c (f_{{t+1}} ⊙ δc_{{t+1}})",
    "gradients.dc_via_h": "δc_t via h_t",
    "gradients.dc_arriving": "δc_t = ∂L/∂c_t arriving",
    "gradients.dc_leaving": "δc_{{t-1}} ← f_t ⊙ δc_t leaving",
    # state-space / linear-attention mixers (views.state)
    "state.axis_channel_inner": "channel (d_inner)",
    "state.axis_head_row": "head row p (head_dim)",
    "state.axis_state_n": "state dim n",
    "state.axis_key_dim": "key dim (d_k)",
    "state.axis_value_dim": "value dim (d_v)",
    "state.axis_channel": "channel (hidden)",
    "state.axis_conv_window": "conv window (the last K inputs B·x, oldest first)",
    "state.window_note": ", {first}–{last} of {n}",
    "state.over_heads": "over heads",
    "state.over_channels": "over channels",
    "state.over_dim": "over {dim}",
    "state.head": "head {h}",
    "state.channel": "channel {c}",
    "state.sep": ", ",
    "state.output": "output",
    "state.output_note": "the mixer's output at t = {t}",
    "state.cross_from": "; the KV cache outweighs the state from t = {t} on",
    "state.cross_never": "; within these {T} tokens the KV cache stays below the state",
    "state.memory_caption": "after position t = {t}: state {state} (constant, trace.state_bytes) · KV cache {kv} = 2 (K, V) × {positions} positions × d_model {d_model} × batch {batch} × {itemsize} B ({dtype}); assumed: an attention layer with heads × head_dim = d_model = the mixer's width, no grouped keys{cross}",
    # the selectors' names above a stepper (controller.py; a name without an entry is shown as it is)
    "selector.layer": "layer",
    "selector.direction": "direction",
    "selector.batch": "batch",
    "selector.head": "head",
    "selector.channel": "channel",
    "count.key.one": "{n} key",
    "count.key.many": "{n} keys",
    "count.point.one": "{n} point",
    "count.point.many": "{n} points",
    "matrix.not_yet": "not computed yet (still filling in)",
    **en_steppers.MESSAGES,  # the steppers' messages (widgets/), kept in their own module
}
