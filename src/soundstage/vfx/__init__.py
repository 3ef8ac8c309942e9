"""VFX on footage: media I/O, image sequences, the operation contract and the guarded backend.

Submodules are imported on use (PyAV, OpenEXR and mediapipe are heavy)."""
