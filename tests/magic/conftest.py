"""The IPython shell every magic test runs in, with the extension loaded."""
import pytest
from IPython.core.interactiveshell import InteractiveShell


@pytest.fixture(scope="module")
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "tr_widgets.magic")
    shell.run_cell("import torch, tr_widgets")
    return shell
