"""The ``nirom`` command line (:mod:`mpi_drivers.cli`) and its drivers: ``hifi``, ``offline``, ``online``,
``cluster`` under MPI, their run records and reports (:mod:`mpi_drivers.report`)."""
