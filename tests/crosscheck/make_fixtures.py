"""Generate the small .h5ad fixtures that `src/io/h5ad.rs` is tested on.

Usage:  python3 crosscheck/make_fixtures.py [OUT_DIR]      (default: fixtures/ beside this folder)
Needs:  anndata (0.12), numpy, pandas, scipy, h5py, hdf5plugin (only for the blosc fixture).

Every matrix follows one formula so the Rust tests can check every element:
    k(i, j) = (3 i + 5 j) mod 7;   value(i, j) = k if k < 4 else 0;   X = scale * value
(scale 0.5 for float X, 1 for integer X).  Layers: "counts" = value (integer), "scaled" = 0.25 * value.
obs columns of the "full" frame (i = row):
    cell_type  categorical [B, T, NK], code i % 3, missing (-1) where i % 10 == 9
    n_genes    int64 10 i
    score      float64 i / 4, NaN at i == 5
    is_ctrl    bool  i % 2 == 0
    batch      nullable Int64: i, missing where i % 4 == 3
    flag       nullable boolean: i % 3 == 0, missing where i % 5 == 4
    label      string "c{i}"
    label_na   nullable string "s{i}", missing where i % 6 == 5
    dose       ordered categorical with integer categories [10, 20], code i % 2
Bad-input fixtures are made from good ones by editing them with h5py.
"""

import os
import sys

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

N_OBS, N_VARS = 30, 8


def base_values():
    i = np.arange(N_OBS)[:, None]
    j = np.arange(N_VARS)[None, :]
    k = (3 * i + 5 * j) % 7
    return np.where(k < 4, k, 0)


def full_obs():
    i = np.arange(N_OBS)
    codes = np.where(i % 10 == 9, -1, i % 3)
    cell_type = pd.Categorical.from_codes(codes, categories=["B", "T", "NK"])
    score = i / 4.0
    score[5] = np.nan
    batch = pd.array([None if x % 4 == 3 else int(x) for x in i], dtype="Int64")
    flag = pd.array([None if x % 5 == 4 else bool(x % 3 == 0) for x in i], dtype="boolean")
    label_na = pd.array([None if x % 6 == 5 else f"s{x}" for x in i], dtype="string")
    dose = pd.Categorical.from_codes(i % 2, categories=[10, 20], ordered=True)
    obs = pd.DataFrame(
        {
            "cell_type": cell_type,
            "n_genes": (10 * i).astype(np.int64),
            "score": score,
            "is_ctrl": i % 2 == 0,
            "batch": batch,
            "flag": flag,
            "label": [f"c{x}" for x in i],
            "label_na": label_na,
            "dose": dose,
        },
        index=[f"cell{x}" for x in i],
    )
    return obs


def small_obs():
    i = np.arange(N_OBS)
    return pd.DataFrame(
        {"cell_type": pd.Categorical.from_codes(i % 3, categories=["B", "T", "NK"])},
        index=[f"cell{x}" for x in i],
    )


def var_frame():
    j = np.arange(N_VARS)
    return pd.DataFrame(
        {"mean": (j / 8.0).astype(np.float32), "highly_variable": j % 2 == 1},
        index=[f"g{x}" for x in j],
    )


def write(path, adata, compression):
    ad.settings.allow_write_nullable_strings = True
    adata.write_h5ad(path, compression=compression, convert_strings_to_categoricals=False)


def fix_good(out):
    v = base_values()
    files = {}
    a = ad.AnnData(
        X=sp.csr_matrix(0.5 * v, dtype=np.float32), obs=full_obs(), var=var_frame()
    )
    a.layers["counts"] = sp.csr_matrix(v.astype(np.int64))
    files["csr_f32_gzip.h5ad"] = (a, "gzip")

    a = ad.AnnData(X=sp.csc_matrix(0.5 * v, dtype=np.float64), obs=small_obs(), var=var_frame())
    a.layers["counts"] = sp.csc_matrix(v.astype(np.int32))
    files["csc_f64_lzf.h5ad"] = (a, "lzf")

    a = ad.AnnData(X=v.astype(np.int32), obs=small_obs(), var=var_frame())
    a.layers["scaled"] = (0.25 * v).astype(np.float32)
    files["dense_i32.h5ad"] = (a, None)

    a = ad.AnnData(X=sp.csr_matrix(v.astype(np.uint16)), obs=small_obs(), var=var_frame())
    files["csr_i64_index_u16_lzf.h5ad"] = (a, "lzf")

    for name, (adata, comp) in files.items():
        write(os.path.join(out, name), adata, comp)

    # int64 indptr and indices (scipy would downcast them to int32).
    with h5py.File(os.path.join(out, "csr_i64_index_u16_lzf.h5ad"), "r+") as f:
        for key in ("indices", "indptr"):
            arr = f["X"][key][()].astype(np.int64)
            del f["X"][key]
            f["X"].create_dataset(key, data=arr, compression="lzf")


def legacy_categories(out):
    """anndata < 0.8 layout: int codes + attribute reference to obs/__categories/<col>."""
    path = os.path.join(out, "legacy_categories.h5ad")
    v = base_values()
    csr = sp.csr_matrix(0.5 * v, dtype=np.float32)
    s = h5py.string_dtype()
    with h5py.File(path, "w") as f:
        x = f.create_group("X")
        x.attrs["h5sparse_format"] = "csr"
        x.attrs["h5sparse_shape"] = np.array([N_OBS, N_VARS])
        x["data"], x["indices"], x["indptr"] = csr.data, csr.indices, csr.indptr
        i = np.arange(N_OBS)
        obs = f.create_group("obs")
        obs.attrs["_index"] = "index"
        obs.attrs["column-order"] = np.array(["cell_type", "n_genes"], dtype=object)
        obs.attrs["encoding-type"] = "dataframe"
        obs.attrs["encoding-version"] = "0.1.0"
        obs.create_dataset("index", data=np.array([f"cell{x}" for x in i], dtype=object), dtype=s)
        cats = obs.create_group("__categories")
        cats.create_dataset("cell_type", data=np.array(["B", "T", "NK"], dtype=object), dtype=s)
        codes = obs.create_dataset("cell_type", data=(i % 3).astype(np.int8))
        codes.attrs["categories"] = cats["cell_type"].ref
        obs.create_dataset("n_genes", data=10 * i)
        var = f.create_group("var")
        var.attrs["_index"] = "index"
        var.attrs["column-order"] = np.array([], dtype=np.float64)
        var.attrs["encoding-type"] = "dataframe"
        var.attrs["encoding-version"] = "0.1.0"
        var.create_dataset(
            "index", data=np.array([f"g{x}" for x in range(N_VARS)], dtype=object), dtype=s
        )


def edited(out, src, dst, edit):
    with open(os.path.join(out, src), "rb") as fi, open(os.path.join(out, dst), "wb") as fo:
        fo.write(fi.read())
    with h5py.File(os.path.join(out, dst), "r+") as f:
        edit(f)


def replace(group, key, arr, **kw):
    del group[key]
    group.create_dataset(key, data=arr, **kw)


def bad_files(out):
    base = "csc_f64_lzf.h5ad"
    csr = "csr_f32_gzip.h5ad"

    def nan(f):
        d = f["X"]["data"][()]
        d[3] = np.nan
        replace(f["X"], "data", d)

    def inf(f):
        d = f["X"]["data"][()]
        d[3] = -np.inf
        replace(f["X"], "data", d, compression="lzf")

    def indptr(f):
        p = f["X"]["indptr"][()]
        p[4], p[5] = p[5], p[4]
        replace(f["X"], "indptr", p)

    def indices(f):
        d = f["X"]["indices"][()]
        d[2] = N_VARS + 3
        replace(f["X"], "indices", d)

    def blosc(f):
        import hdf5plugin

        d = f["X"]["data"][()]
        replace(f["X"], "data", d, **hdf5plugin.Blosc())

    def dup_var(f):
        names = np.array([f"g{x}" for x in range(N_VARS)], dtype=object)
        names[5] = "g2"
        replace(f["var"], "_index", names, dtype=h5py.string_dtype())

    def no_x(f):
        del f["X"]

    def dense_shape(f):
        replace(f, "X", np.zeros((N_OBS - 1, N_VARS), dtype=np.float32))

    def compound_obs(f):
        del f["obs"]
        rec = np.zeros(N_OBS, dtype=[("index", "S8"), ("n", "<i8")])
        f.create_dataset("obs", data=rec)

    edited(out, csr, "bad_nan.h5ad", nan)
    edited(out, base, "bad_csc_inf.h5ad", inf)
    edited(out, csr, "bad_indptr.h5ad", indptr)
    edited(out, csr, "bad_indices.h5ad", indices)
    edited(out, base, "bad_blosc.h5ad", blosc)
    edited(out, base, "bad_dup_var.h5ad", dup_var)
    edited(out, base, "bad_no_x.h5ad", no_x)
    edited(out, base, "bad_shape.h5ad", dense_shape)
    # anndata < 0.7 kept obs as one record array: read since issue 15 (no longer a bad file).
    edited(out, base, "compound_obs.h5ad", compound_obs)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures")
    os.makedirs(out, exist_ok=True)
    fix_good(out)
    legacy_categories(out)
    bad_files(out)
    for name in sorted(os.listdir(out)):
        print(f"{name}\t{os.path.getsize(os.path.join(out, name))}")


if __name__ == "__main__":
    main()
