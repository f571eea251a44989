"""regulon-stats: per-TF summary of a GRN edge table, with pyarrow.

Protocol (plugins/README.md): the input is $GCRL_INPUTS/edges.arrow, params are in
$GCRL_PARAMS (JSON), the output goes to $GCRL_OUTPUTS/regulons.arrow (an Arrow IPC file).
"""
import json
import os
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc


def main():
    params = json.load(open(os.environ["GCRL_PARAMS"]))
    with pa.memory_map(os.path.join(os.environ["GCRL_INPUTS"], "edges.arrow")) as source:
        edges = ipc.open_file(source).read_all()
    weight = params["weight"]
    for column in ("source", "target", weight):
        if column not in edges.column_names:
            sys.exit(f"regulon-stats: no column `{column}` in edges (columns: {', '.join(edges.column_names)})")
    strong = edges["strong"] if "strong" in edges.column_names else pa.repeat(True, edges.num_rows)
    table = pa.table({
        "tf": edges["source"],
        "target": edges["target"],
        "abs_weight": pc.abs(pc.cast(edges[weight], pa.float64())),
        "strong": pc.cast(strong, pa.int64()),
    })
    stats = table.group_by("tf").aggregate([
        ("target", "count"), ("strong", "sum"), ("abs_weight", "mean"), ("abs_weight", "max"),
    ])
    out = pa.table({
        "tf": stats["tf"],
        "n_targets": pc.cast(stats["target_count"], pa.int64()),
        "n_strong": pc.cast(stats["strong_sum"], pa.int64()),
        "mean_abs_weight": stats["abs_weight_mean"],
        "max_abs_weight": stats["abs_weight_max"],
    })
    out = out.filter(pc.greater_equal(out["n_targets"], params["min_targets"]))
    out = out.sort_by([("n_targets", "descending"), ("tf", "ascending")])
    out = out.replace_schema_metadata({"gcrl.plugin": "regulon-stats"})
    with ipc.new_file(os.path.join(os.environ["GCRL_OUTPUTS"], "regulons.arrow"), out.schema) as sink:
        sink.write_table(out)


if __name__ == "__main__":
    main()
