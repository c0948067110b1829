"""nirom's reduced-order modelling core (POD, ECM, Gappy-POD, online solver)."""
