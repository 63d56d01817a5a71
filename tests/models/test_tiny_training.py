"""scripts/train_tiny.py is reproducible: two short runs give bit-identical weights."""
import importlib.util
import pathlib

import torch

from tr_widgets.models import load_tiny

ROOT = pathlib.Path(__file__).resolve().parents[2]
SMALL = dict(n_layer=1, n_head=2, n_embd=16, block_size=16)


def load_script():
    spec = importlib.util.spec_from_file_location("train_tiny", ROOT / "scripts" / "train_tiny.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_two_short_runs_give_identical_weights_and_leave_global_state_alone(tmp_path):
    train_tiny = load_script()
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    rng = torch.get_rng_state()
    a, tok, log_a = train_tiny.train(steps=4, batch_size=4, model_kw=SMALL)
    b, _, log_b = train_tiny.train(steps=4, batch_size=4, model_kw=SMALL)
    c, _, _ = train_tiny.train(steps=4, batch_size=4, model_kw=SMALL, seed=1)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)  # the seed matters, so the check can fail
    assert log_a["train_loss"] == log_b["train_loss"] and len(log_a["train_loss"]) == 4
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == (threads, det)
    assert torch.equal(torch.get_rng_state(), rng)
    # and a saved run loads back through the public loader with the same weights
    path = tmp_path / "t.safetensors"
    train_tiny.save_tiny(a, tok, path, extra={"steps": 4})
    loaded, tok2 = load_tiny(path=path)
    assert tok2.vocab == tok.vocab
    assert all(torch.equal(v, sa[k]) for k, v in loaded.state_dict().items())
