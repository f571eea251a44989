"""Read a gcrl workflow's cached outputs from Python.

The cache is read directly: ``gcrl paths WORKFLOW --json`` (the binary, so keys are never
recomputed here) names the Arrow IPC file of each cached output, and pyarrow reads it.

    import gcrl
    w = gcrl.open("workflows/demo.yaml")
    w.table("communities.consensus")                       # pandas
    w.anndata("prep.expression", obs="prep.cells")         # AnnData
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional

import pyarrow as pa

__all__ = ["open", "Workflow", "GcrlError", "find_binary"]

#: Schema metadata key of the sparse matrix layout: the gene names, as a JSON list.
GENES_KEY = b"gcrl.genes"


class GcrlError(Exception):
    """A failure of the binary, a missing output, or an output of the wrong shape."""


def find_binary(start: Optional[Path] = None) -> str:
    """The gcrl binary: ``GCRL_BIN``, else ``gcrl`` on ``PATH``, else ``target/release/gcrl`` of
    the repository holding ``start`` (the workflow's folder) or this package."""
    env = os.environ.get("GCRL_BIN")
    if env:
        return env
    on_path = shutil.which("gcrl")
    if on_path:
        return on_path
    for base in filter(None, [start, Path(__file__).resolve().parent]):
        for folder in [base.resolve(), *base.resolve().parents]:
            candidate = folder / "target" / "release" / "gcrl"
            if candidate.is_file():
                return str(candidate)
    raise GcrlError(
        "cannot find the gcrl binary: set GCRL_BIN, put gcrl on PATH, or build it "
        "(cargo build --release) in the repository"
    )


def open(  # noqa: A001 (as gcrl.open reads)
    workflow: str | os.PathLike,
    cache: Optional[str | os.PathLike] = None,
    set: Optional[Mapping[str, object]] = None,  # noqa: A002 (the CLI's --set)
    binary: Optional[str] = None,
) -> "Workflow":
    """The cached outputs of ``workflow``, for its parameters after ``set``
    (``{"prep.n_top_genes": 500}``, as ``--set``). ``cache`` as ``--cache`` (default:
    ``GCRL_CACHE``, else ``./cache``)."""
    workflow = Path(workflow)
    exe = binary or find_binary(workflow.parent)
    cmd = [exe]
    if cache is not None:
        cmd += ["--cache", str(cache)]
    cmd += ["paths", str(workflow), "--json"]
    for k, v in (set or {}).items():
        cmd += ["--set", f"{k}={v}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise GcrlError(done.stderr.strip() or f"{' '.join(cmd)} exited {done.returncode}")
    doc = json.loads(done.stdout)
    for o in doc["objects"]:  # relative to this directory, as the binary resolved them
        o["path"] = str(Path.cwd() / o["path"])
    return Workflow(doc, workflow)


class Workflow:
    """A workflow's cached outputs, by ``node.output`` (``node[k=v].output`` for a sweep instance)."""

    def __init__(self, doc: dict, path: Path):
        self.name: str = doc["workflow"]
        self.path = path
        self.objects: Dict[str, dict] = {o["name"]: o for o in doc["objects"]}
        self.missing: List[str] = list(doc["missing"])

    def __repr__(self) -> str:
        return f"<gcrl workflow {self.name!r}: {len(self.objects)} cached outputs, {len(self.missing)} tasks missing>"

    def names(self) -> List[str]:
        """Every cached output, in workflow order."""
        return list(self.objects)

    def entry(self, name: str) -> dict:
        """Where ``name`` lives and what made it: node, output, task, kind, kind_version, hash, path."""
        if name in self.objects:
            return self.objects[name]
        node = name.split(".", 1)[0]
        instances = [n for n in self.objects if n.split("[", 1)[0] == node and n.endswith(name[len(node):])]
        if instances and node == name.split("[", 1)[0]:
            raise GcrlError(f"node `{node}` is swept; pick an instance: {', '.join(instances)}")
        if any(m.split("[", 1)[0] == node for m in self.missing):
            raise GcrlError(f"`{name}` is not in the cache for these parameters; run `gcrl run {self.path}` first")
        raise GcrlError(f"no output `{name}`; the cached outputs are {', '.join(self.objects) or 'none'}")

    def arrow(self, name: str) -> pa.Table:
        """The output as stored: a pyarrow Table (a sparse matrix keeps its list layout)."""
        path = self.entry(name)["path"]
        with pa.memory_map(path) as source:
            return pa.ipc.open_file(source).read_all()

    def table(self, name: str):
        """The output as a pandas DataFrame; a sparse matrix becomes a dense ``cell`` + one
        column per gene frame, as ``gcrl export`` writes it."""
        return _densified(self.arrow(name)).to_pandas()

    def polars(self, name: str):
        """The output as a polars DataFrame (sparse matrices densified, as :meth:`table`)."""
        import polars as pl

        return pl.from_arrow(_densified(self.arrow(name)))

    def provenance(self, name: str) -> dict:
        """workflow, node, output, kind, kind_version and content hash of ``name``."""
        e = self.entry(name)
        keys = ["node", "output", "task", "kind", "kind_version", "hash"]
        return {"workflow": self.name, **{k: e[k] for k in keys}}

    def anndata(
        self,
        name: str,
        obs: Optional[str] = None,
        var: Optional[str] = None,
        obsm: Optional[Mapping[str, str]] = None,
        varm: Optional[Mapping[str, str]] = None,
    ):
        """A cells × genes output as AnnData: X as stored (scipy CSR for the sparse layout,
        dense otherwise), ``obs`` from a cell table's columns (``cell`` is the index), ``var``
        from a gene table's (``gene``), as ``gcrl export --obs/--var`` write them, ``obsm``
        from cells × k tables (``{"X_tfa": "activities.activities"}``), aligned by cell name,
        ``varm`` from genes × k tables (``{"hvg": "prep.genes"}``), aligned by gene name;
        ``uns["gcrl"]["provenance"]`` is the data frame ``gcrl export`` writes: one row per part
        (``X``, ``obs``, ``var``, ``obsm/<key>``, ``varm/<key>``) with its workflow, node, output,
        kind, kind_version, hash."""
        import anndata as ad
        import pandas as pd

        cells, genes, x = _matrix(self.arrow(name), name)
        used = [("X", name)]
        frames = {}
        for part, source, key, names in [("obs", obs, "cell", cells), ("var", var, "gene", genes)]:
            frames[part] = pd.DataFrame(index=pd.Index(names, name=None))
            if source is None:
                continue
            t = self.table(source)
            if key not in t.columns:
                raise GcrlError(f"{part}={source!r} has no `{key}` column; its columns are {', '.join(t.columns)}")
            frames[part] = _aligned(t.set_index(key), names, f"{part}={source!r}", key)
            frames[part].index.name = None
            used.append((part, source))
        matrices = {"obsm": {}, "varm": {}}
        for part, given, names, noun in [("obsm", obsm, cells, "cell"), ("varm", varm, genes, "gene")]:
            for key, source in (given or {}).items():
                rows, cols, m = _matrix(self.arrow(source), source)
                m = m.toarray() if hasattr(m, "toarray") else m
                frame = pd.DataFrame(m, index=rows, columns=cols)
                matrices[part][key] = _aligned(frame, names, f"{part}[{key!r}]", noun).to_numpy()
                used.append((f"{part}/{key}", source))
        columns = ["workflow", "node", "output", "kind", "kind_version", "hash"]
        rows = [[self.provenance(n)[c] for c in columns] for _, n in used]
        provenance = pd.DataFrame(rows, index=[part for part, _ in used], columns=columns)
        uns = {"gcrl": {"provenance": provenance}}
        return ad.AnnData(
            X=x, obs=frames["obs"], var=frames["var"], obsm=matrices["obsm"], varm=matrices["varm"], uns=uns
        )


def _densified(t: pa.Table) -> pa.Table:
    if not _is_sparse(t):
        return t
    cells, genes, x = _matrix(t, "")
    dense = x.toarray()
    columns = {"cell": pa.array(cells, pa.string())}
    columns.update({g: pa.array(dense[:, j]) for j, g in enumerate(genes)})
    return pa.table(columns)


def _is_sparse(t: pa.Table) -> bool:
    return GENES_KEY in (t.schema.metadata or {})


def _matrix(t: pa.Table, name: str):
    """(cells, genes, X) of a matrix table: the sparse layout (``cell``, ``indices``, ``values``
    lists, genes in the schema metadata) as scipy CSR, a dense one (row names first) as numpy."""
    if _is_sparse(t):
        import numpy as np
        import scipy.sparse as sp

        genes = json.loads(t.schema.metadata[GENES_KEY])
        t = t.combine_chunks()
        indices, values = t.column("indices").chunk(0), t.column("values").chunk(0)
        offsets = indices.offsets.to_numpy()
        start = offsets[0]
        x = sp.csr_matrix(
            (
                values.flatten().to_numpy(zero_copy_only=False),
                indices.flatten().to_numpy(zero_copy_only=False).astype(np.int32),
                (offsets - start).astype(np.int32),
            ),
            shape=(t.num_rows, len(genes)),
        )
        return t.column("cell").to_pylist(), genes, x
    import numpy as np

    if t.num_columns < 2:
        raise GcrlError(f"`{name}` is not a matrix (row names and numeric columns): {t.schema.names}")
    cols = t.column_names
    try:
        x = np.column_stack([t.column(c).to_numpy() for c in cols[1:]])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise GcrlError(f"`{name}` is not a numeric matrix: {e}") from None
    return [str(c) for c in t.column(cols[0]).to_pylist()], list(cols[1:]), x


def _aligned(frame, wanted: Iterable[str], what: str, noun: str):
    missing = [c for c in wanted if c not in frame.index]
    if missing:
        raise GcrlError(f"{noun} `{missing[0]}` of X is not in {what} ({len(missing)} missing)")
    return frame.loc[list(wanted)]
