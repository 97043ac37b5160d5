"""The report's provenance section: sampler settings and seeds, hashes, the machine and the
versions behind every number."""

import pandas as pd

from replication_ladder.report.dataset import Section


class ProvenanceSection(Section):
    """What produced the numbers."""

    def provenance_table(self) -> pd.DataFrame:
        rows = {}
        for model in self.report.models:
            d = self.report.diagnostics(model)
            rows[model] = {
                "sampler": d["sampler"],
                "seed": d["seed"],
                "chains": d["chains"],
                "draws": d["draws"],
                "thin": d.get("thin", 1),
                "tune": d["tune"],
                "model config sha256": d["config_sha256"],
                # The whole config as it was when this rung was fitted.
                "workflow config sha256": d["workflow_config_sha256"],
                "data sha256": d["data_sha256"],
                "git commit": d["provenance"]["git_commit"],
                "tree dirty": d["provenance"]["git_dirty"],
                "threads": d["provenance"].get("threads"),
            }
        return pd.DataFrame(rows).T

    def machine_table(self) -> pd.DataFrame:
        """What bit-for-bit reproduction depends on: the CPU's instruction sets, the BLAS
        and its core type, the threads."""
        p = self.report.diagnostics(self.report.models[0])["provenance"]
        cpu, blas = p.get("cpu") or {}, p.get("blas") or {}
        return pd.DataFrame(
            {
                "value": {
                    "platform": p.get("platform"),
                    "CPU": cpu.get("model"),
                    "CPU instruction sets": " ".join(cpu.get("flags") or []),
                    "BLAS": f"{blas.get('name')} {blas.get('version')}",
                    "BLAS core type": blas.get("core_type"),
                }
            }
        )

    def versions_table(self) -> pd.DataFrame:
        versions = self.report.diagnostics(self.report.models[0])["provenance"]["versions"]
        return pd.DataFrame({"version": versions})

    def hashes_table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "sha256": {
                    "raw data": self.report.record["raw_sha256"],
                    "processed data": self.report.record["processed_sha256"],
                    "dataset's report settings": self.report.settings["settings_sha256"],
                }
            }
        )
