"""SBOM readers: CycloneDX (JSON, XML) and SPDX (JSON, tag-value) documents into components."""
