"""Applications of Dynamic-Net. Each is a thin consumer of :mod:`dynamicnet.core`; importing one registers its
main-network architecture so that model folders can be loaded by name."""
