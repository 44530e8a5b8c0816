"""Where things are: the source tree, the build directory, this library.

SGS_SOURCE_DIR and SGS_BUILD_DIR (set by ctest, bench/run.sh and the demo)
override the defaults: the checkout this library lives in, and its build/.
Both names are in the C programs' table of tool variables
(common/src/config.c), so the programs ignore them.
"""

import os

# tests/lib, the directory holding this package: what PYTHONPATH names for
# programs that use the library outside pytest (bench/run.sh, scripts/demo.sh).
LIB_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SOURCE_DIR = os.path.abspath(os.environ.get("SGS_SOURCE_DIR")
                             or os.path.join(LIB_DIR, "..", ".."))
BUILD_DIR = os.path.abspath(os.environ.get("SGS_BUILD_DIR")
                            or os.path.join(SOURCE_DIR, "build"))


def set_build_dir(path):
    """Uses the programs of another build directory from now on (also for
    the children: SGS_BUILD_DIR is updated)."""
    global BUILD_DIR
    BUILD_DIR = os.path.abspath(path)
    os.environ["SGS_BUILD_DIR"] = BUILD_DIR


def build_path(name):
    """Path of a built program under the build directory; raises
    FileNotFoundError if it is missing."""
    p = os.path.join(BUILD_DIR, name)
    if not os.path.exists(p):
        raise FileNotFoundError("%s not built (SGS_BUILD_DIR=%s)" % (name, BUILD_DIR))
    return p


def source_path(*parts):
    return os.path.join(SOURCE_DIR, *parts)


def pythonpath_env(env=None):
    """`env` (default: this process's environment) with LIB_DIR first on
    PYTHONPATH: for a child Python program that imports sgstest."""
    e = dict(os.environ if env is None else env)
    old = e.get("PYTHONPATH")
    e["PYTHONPATH"] = LIB_DIR + (os.pathsep + old if old else "")
    return e
