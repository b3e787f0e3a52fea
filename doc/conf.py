"""Sphinx configuration of the skvi documentation.

Build (from the repository root, warnings are errors)::

    python -m sphinx -W -b html doc doc/_build/html

The build needs no network. Set ``SKVI_DOC_INTERSPHINX=1`` to link Python, NumPy, SciPy
and scikit-learn names to their own documentation (this downloads their inventories).
"""

import importlib.util
import os
import sys
from datetime import date

# Document the source tree next to this folder, installed or not.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "_ext")))

import skvi  # noqa: E402

# -- Project ---------------------------------------------------------------------------
project = "skvi"
author = "skvi developers"
copyright = f"{date.today().year}, {author}"
release = skvi.__version__
version = ".".join(release.split(".")[:2])

# -- General ---------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "bench_tables",  # doc/_ext: the benchmarks page's tables from benchmarks/results/
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "README.md", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"

# autodoc / autosummary: one generated page per public object (doc/generated/).
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"

# numpydoc: the class pages list their methods themselves (see the class template).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# intersphinx: off by default so that the build works offline.
if os.environ.get("SKVI_DOC_INTERSPHINX", "0") == "1":
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
    }
else:
    intersphinx_mapping = {}

# sphinx-gallery: every doc/examples/plot_*.py runs during the build (matplotlib's Agg
# backend, no display needed) and becomes a page of doc/auto_examples/ (written by the
# build, not tracked). An example that raises fails the build.
os.environ.setdefault("MPLBACKEND", "Agg")

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "plot_gallery": "True",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,  # no zip of all examples
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 0,
    "backreferences_dir": None,
    "binder": {},  # no Binder badge
}

# -- HTML ------------------------------------------------------------------------------
if importlib.util.find_spec("pydata_sphinx_theme") is not None:
    html_theme = "pydata_sphinx_theme"
    html_theme_options = {
        "navigation_with_keys": False,
        "show_toc_level": 2,
    }
else:
    html_theme = "alabaster"
html_title = f"skvi {release}"
html_show_sourcelink = False


# -- Hooks -----------------------------------------------------------------------------
def _skip_metadata_routing(app, what, name, obj, skip, options):
    """Leave scikit-learn's metadata-routing methods and ``set_output`` (``get_metadata_routing``,
    ``set_<method>_request``) to scikit-learn's documentation: their inherited docstrings
    refer to labels and glossary terms that exist only in scikit-learn's site."""
    if name in ("get_metadata_routing", "set_output") or (
        name.startswith("set_") and name.endswith("_request")
    ):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_routing)
