"""Output formats of a finished scan (`ResultFormat`): CycloneDX, SPDX, SARIF, an HTML report; one module each."""
