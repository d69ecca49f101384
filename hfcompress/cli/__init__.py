"""The ``hfcompress`` command line: thin argument parsing over the library."""
