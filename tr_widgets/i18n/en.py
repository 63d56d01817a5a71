"""English messages: key -> template (``str.format`` placeholders). ``zh.py`` has the same keys."""

MESSAGES = {
    # the step controls (static/player.js); keys under "control." travel to the browser as one dict
    "control.previous": "previous step",
    "control.next": "next step",
    "control.play": "play",
    "control.pause": "pause",
    "control.speed": "speed",
    "control.loading": "loading…",
    "control.of": "{step} of {last}",
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
      Runs the cell under capture (its variables stay defined) and shows what it recorded. Stands for:
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
}
