"""OSV data: reading record sources (zips, directories, files) and the bundled sample."""
