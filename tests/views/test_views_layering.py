"""Views are numpy and torch only: importing them loads no widget library (architecture.md)."""
import subprocess
import sys


def test_importing_views_loads_no_widget_code():
    code = ("import sys, tr_widgets.views; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('ipywidgets', 'anywidget', 'altair', 'IPython') or m.startswith('tr_widgets.widgets')]; "
            "print(bad); assert not bad")
    subprocess.run([sys.executable, "-c", code], check=True)
