"""The public surface is small and deliberate (style.md §6): changing it must change this test."""
import tr_widgets

EXPECTED = {
    "AttentionTrace", "DecodeTrace", "Edit", "compare", "what_if", "GradientTrace", "LoopTrace", "MemoryBudgetError", "capture", "decode", "RecurrentTrace", "StateTrace", "TraceInputError", "__version__",
    "get_language", "get_memory_budget", "load", "load_tiny", "set_language", "set_memory_budget", "show", "token_labels", "trace_attention", "trace_gradients", "trace_recurrent",
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


def test_the_lists_are_derived_from_the_one_table():
    """widgets.__all__ exports every stepper of the kind table; both show() docstrings name every pair."""
    import tr_widgets.widgets as widgets
    from tr_widgets.widgets.registry import STEPPERS

    for trace_type, kind in STEPPERS.items():
        cls = kind.stepper_class()
        assert cls.__name__ in widgets.__all__ and getattr(widgets, cls.__name__) is cls
        for doc in (tr_widgets.show.__doc__, widgets.show.__doc__):
            assert f"{trace_type.__name__} → {cls.__name__}" in " ".join(doc.split()), (trace_type, cls)


def test_the_engine_docstring_names_every_subpackage():
    import pathlib

    import tr_widgets.engine as engine

    root = pathlib.Path(engine.__file__).parent
    subpackages = [p.parent.name for p in root.glob("*/__init__.py")]
    assert len(subpackages) >= 7
    for name in subpackages:
        assert f"``{name}``" in engine.__doc__, name
