"""Import lava-dl's netx without torch.

lava-dl 0.6.0's ``lava.lib.dl.netx`` package pulls torch in twice: its ``__init__`` imports
``sequential_modules`` (torch), and ``hdf5.py`` imports ``slayer.neuron.rf.neuron_params``
(the slayer package imports torch). Neither is needed for CUBA dense networks. We register three
placeholder modules before importing ``netx.hdf5``:

- ``lava.lib.dl.netx`` as a bare package (its real directory, without running ``__init__``);
- ``lava.lib.dl.netx.sequential_modules`` with a ``__file__`` (Lava's compiler walks the package
  and asks each module for its file; it then fails to exec this one and only warns);
- ``lava.lib.dl.slayer.neuron.rf`` whose ``neuron_params`` raises (only resonate-and-fire
  layers use it).
"""

from __future__ import annotations

import os
import sys
import types
import warnings
from typing import Any


class NetxImportError(RuntimeError):
    pass


def _rf_unsupported(*_: Any, **__: Any) -> Any:
    raise NetxImportError("resonate-and-fire layers need lava-dl's slayer (torch); neuroff exports CUBA layers only")


def _stub(name: str, path: str | None = None, **attrs: Any) -> None:
    if name in sys.modules:
        return
    module = types.ModuleType(name)
    if path is not None:
        module.__path__ = [path]  # a package: submodules load from the real directory
    for key, value in attrs.items():
        setattr(module, key, value)
    sys.modules[name] = module


def import_netx_hdf5() -> types.ModuleType:
    """``lava.lib.dl.netx.hdf5``, importable without torch."""
    try:
        import lava
    except ImportError as err:
        raise NetxImportError(f"lava-nc is not installed in this interpreter ({err}); run hardware/setup-lava-venv.sh") from None
    base = os.path.join(list(lava.__path__)[0], "lib", "dl")
    netx_dir = os.path.join(base, "netx")
    if not os.path.isfile(os.path.join(netx_dir, "hdf5.py")):
        raise NetxImportError("lava-dl is not installed (no lava/lib/dl/netx); run hardware/setup-lava-venv.sh")
    _stub("lava.lib.dl.slayer", os.path.join(base, "slayer"))
    _stub("lava.lib.dl.slayer.neuron", os.path.join(base, "slayer", "neuron"))
    _stub("lava.lib.dl.slayer.neuron.rf", neuron_params=_rf_unsupported)
    _stub("lava.lib.dl.netx", netx_dir)
    _stub("lava.lib.dl.netx.sequential_modules", __file__=os.path.join(netx_dir, "sequential_modules.py"))
    # the compiler's walk over netx re-executes sequential_modules.py, fails on torch and warns
    warnings.filterwarnings("ignore", message=r"Cannot import module .*sequential_modules", category=UserWarning)
    from lava.lib.dl.netx import hdf5

    return hdf5
