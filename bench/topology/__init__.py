"""Two layouts of the mesh under the same load, interleaved (see __main__)."""
