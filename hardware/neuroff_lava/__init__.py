"""Run a neuroff Loihi export (lava-dl netx HDF5 + JSON sidecar) on Intel Lava.

Pure Python 3.10 + numpy + lava-nc + h5py; no torch, no neuroff import. Lives in its own venv
(`.venv-lava`, made by `hardware/setup-lava-venv.sh`). Entry point::

    python -m neuroff_lava.run model.net --inputs spikes.npz --out result.npz
"""

__version__ = "0.1.0"
