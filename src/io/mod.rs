//! Readers of the files scientists bring: h5ad (AnnData), 10x MatrixMarket, CSV/TSV.
