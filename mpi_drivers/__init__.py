"""The ``nirom`` command line and the MPI drivers of the offline and online stages."""
