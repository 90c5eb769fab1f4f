"""Exporters of trained spiking networks: Loihi (lava-dl netx HDF5 + sidecar) and NIR."""
