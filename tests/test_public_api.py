"""The public surface is small and deliberate (style.md §6): changing it must change this test."""
import tr_widgets

EXPECTED = {
    "AttentionTrace", "DecodeTrace", "GradientTrace", "MemoryBudgetError", "capture", "decode", "RecurrentTrace", "TraceInputError", "__version__",
    "get_language", "get_memory_budget", "load_tiny", "set_language", "set_memory_budget", "show", "token_labels", "trace_attention", "trace_gradients", "trace_recurrent",
}


def test_all_is_pinned():
    assert set(tr_widgets.__all__) == EXPECTED
    for name in tr_widgets.__all__:
        assert hasattr(tr_widgets, name), name


def test_every_public_function_has_a_docstring_with_an_example():
    for name in tr_widgets.__all__:
        obj = getattr(tr_widgets, name)
        if callable(obj):  # functions and classes alike
            assert obj.__doc__ and "Example" in obj.__doc__, name
