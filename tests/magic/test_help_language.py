"""``%tr_step?`` speaks the language set_language chose (issue 15)."""
import tr_widgets
from tr_widgets.i18n import CATALOGUES
from tr_widgets.magic import DEMOS, TrStepMagics


def _help(ip):
    return ip.find_line_magic("tr_step").__doc__


def test_the_help_follows_set_language(ip):
    english = _help(ip)
    before = tr_widgets.set_language("zh")
    try:
        chinese = _help(ip)
        assert chinese != english
        assert chinese.startswith(CATALOGUES["zh"]["magic.help"].split("\n")[0])
        for name, demo in DEMOS.items():  # every demo, its summary in Chinese, its code unchanged
            assert f"%tr_step {name} " in chinese
            assert CATALOGUES["zh"][f"magic.demo.{name}"] in chinese
            code = demo.python(demo.parser(name).parse_args([])).splitlines()
            assert all("        " + ln in chinese.splitlines() for ln in code), name
    finally:
        tr_widgets.set_language(before)
    assert _help(ip) == english


def test_a_demo_without_a_translation_keeps_its_own_words(ip):
    from tr_widgets.magic import Demo, register_demo

    register_demo("ones_help_test", Demo("uniform attention, untranslated", [],
                                         lambda a: "tr_widgets.trace_attention(*torch.ones(3, 1, 1, 2, 2).unbind(0))"))
    try:
        tr_widgets.set_language("zh")
        assert "uniform attention, untranslated" in TrStepMagics.tr_step.__doc__
    finally:
        tr_widgets.set_language("en")
        DEMOS.pop("ones_help_test")
        TrStepMagics.tr_step.__doc__ = TrStepMagics.tr_step.__doc__  # unchanged object
