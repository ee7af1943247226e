"""Tiny synthetic copies of the nuclei downloads, one module per dataset, in
their exact distributed formats (folder names, dtypes, ``.mat`` v5), with the
download's quirks and ways to corrupt a file, for the converter tests."""
