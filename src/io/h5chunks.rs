//! Parallel decoding of large 1-D HDF5 datasets (the `data` and `indices` arrays of a sparse
//! `.h5ad` matrix).
//!
//! hdf5-pure decodes a dataset on one thread, through a copy per value, and inflates chunks one
//! after the other, which made reading a matrix slower than anndata (h5py reads straight into
//! the array). Here hdf5-pure still parses the file (layout, chunk index, filter pipeline,
//! datatype) but the stored bytes are read directly (`pread`) and decoded on rayon's threads, a
//! group of runs at a time so memory stays at a few MiB beyond the result. A run is a chunk, or
//! a 1 Mi-value slice of a contiguous dataset. zlib-rs (the zlib port flate2 can use as its
//! backend) inflates about twice as fast as flate2's default miniz_oxide here. Only the common
//! cases are taken — a 1-D little-endian numeric dataset, contiguous, or chunked with every chunk
//! allocated and no filters but deflate and shuffle; anything else is left to hdf5-pure. Owns no
//! knowledge of AnnData.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use hdf5_pure::{DType, Dataset, Datatype, DatatypeByteOrder, Layout};
use rayon::prelude::*;

use crate::io::IoError;

/// HDF5 filter identifiers handled here.
const DEFLATE: u16 = 1;
const SHUFFLE: u16 = 2;
/// Decoded bytes handled per group of runs decoded in parallel.
const GROUP_BYTES: u64 = 8 << 20;
/// Values per run of a contiguous dataset.
const CONTIGUOUS_RUN: u64 = 1 << 20;
/// Largest decoded chunk taken here.
const MAX_CHUNK_BYTES: u64 = 64 << 20;

/// A stored numeric type (little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    F32,
    F64,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
}

impl Kind {
    fn size(self) -> usize {
        match self {
            Kind::I8 | Kind::U8 => 1,
            Kind::I16 | Kind::U16 => 2,
            Kind::F32 | Kind::I32 | Kind::U32 => 4,
            Kind::F64 | Kind::I64 | Kind::U64 => 8,
        }
    }
}

/// A value type a dataset is read into, converted like hdf5-pure's `read_*` methods (`as`).
pub(crate) trait Element: bytemuck::Pod + Send + Sync {
    /// The stored kind whose bytes are exactly this type's (read with no conversion).
    const KIND: Kind;
    /// Decodes little-endian values of kind `kind` into `out`, one per `kind.size()` bytes.
    fn convert_into(raw: &[u8], kind: Kind, out: &mut [Self]);
}

macro_rules! element {
    ($t:ty, $kind:ident, |$v:ident| $map:expr) => {
        impl Element for $t {
            const KIND: Kind = Kind::$kind;
            fn convert_into(raw: &[u8], kind: Kind, out: &mut [$t]) {
                macro_rules! le {
                    ($s:ty) => {
                        for (o, b) in out.iter_mut().zip(raw.chunks_exact(size_of::<$s>())) {
                            let $v = <$s>::from_le_bytes(b.try_into().expect("exact chunk"));
                            *o = $map;
                        }
                    };
                }
                match kind {
                    Kind::F32 => le!(f32),
                    Kind::F64 => le!(f64),
                    Kind::I8 => le!(i8),
                    Kind::I16 => le!(i16),
                    Kind::I32 => le!(i32),
                    Kind::I64 => le!(i64),
                    Kind::U8 => le!(u8),
                    Kind::U16 => le!(u16),
                    Kind::U32 => le!(u32),
                    Kind::U64 => le!(u64),
                }
            }
        }
    };
}
element!(f32, F32, |v| v as f32);
element!(i64, I64, |v| v as i64);
// Sparse indices: a value outside u32 (negative, or too large) becomes u32::MAX, which no
// index bound admits, so it is caught by the range check instead of wrapping to a valid index.
element!(u32, U32, |v| u32::try_from(v as i64).unwrap_or(u32::MAX));

/// Converts `values`, whose bytes hold little-endian values of `kind` (as wide as `T`), to `T`,
/// through a small buffer on the stack.
fn convert_in_place<T: Element>(values: &mut [T], kind: Kind) {
    const STEP: usize = 1024;
    let mut raw = [0u8; STEP * 8];
    for part in values.chunks_mut(STEP) {
        let bytes = &mut raw[..std::mem::size_of_val(part)];
        bytes.copy_from_slice(bytemuck::cast_slice(part));
        T::convert_into(bytes, kind, part);
    }
}

/// One stored run of values: where its bytes are and which values they hold.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// File offset of the stored bytes.
    address: u64,
    /// Stored (possibly compressed) bytes.
    stored: u64,
    /// Index of the run's first value in the dataset.
    start: u64,
    /// Values the run decodes to (a last chunk decodes to a whole chunk, padding included).
    values: u64,
    /// Bit i set: filter i of the pipeline was skipped for this run.
    filter_mask: u32,
}

/// A 1-D dataset located in its file, ready for parallel decoding.
pub(crate) struct ParallelReader {
    path: PathBuf,
    object: String,
    file: File,
    /// Every run, in order of the values they hold.
    runs: Vec<Run>,
    len: u64,
    kind: Kind,
    /// The filter pipeline in write order: (identifier, applies unless this mask bit is set).
    filters: Vec<(u16, u32)>,
}

impl ParallelReader {
    /// The reader for dataset `ds` (named `object` in the file at `path`), or `None` when it is
    /// not a case handled here (then read it through hdf5-pure, which also reports any error).
    pub(crate) fn new(path: &Path, object: &str, ds: &Dataset) -> Option<Self> {
        let &[len] = &ds.shape().ok()?[..] else { return None };
        let kind = stored_kind(ds)?;
        let size = kind.size() as u64;
        let filters: Vec<(u16, u32)> = ds.filter_pipeline().iter().enumerate().map(|(i, f)| (f.id, 1 << i)).collect();
        let runs = match ds.layout().ok()? {
            Layout::Contiguous { address: Some(address), size: stored } if filters.is_empty() => {
                if len.checked_mul(size)? != stored {
                    return None;
                }
                let runs = (0..len.div_ceil(CONTIGUOUS_RUN)).map(|k| {
                    let start = k * CONTIGUOUS_RUN;
                    let values = CONTIGUOUS_RUN.min(len - start);
                    Run { address: address + start * size, stored: values * size, start, values, filter_mask: 0 }
                });
                runs.collect()
            }
            Layout::Chunked { chunk_shape, .. } => {
                let &[chunk_len] = &chunk_shape[..] else { return None };
                let handled = filters.iter().all(|&(id, _)| id == DEFLATE || id == SHUFFLE);
                // h5py's chunks are at most 1 MiB; a larger one (or a corrupt size) goes to hdf5-pure.
                let sane = chunk_len > 0 && chunk_len.checked_mul(size).is_some_and(|b| b <= MAX_CHUNK_BYTES);
                if !sane || !handled {
                    return None;
                }
                let mut chunks = ds.chunks().ok()?;
                chunks.sort_by_key(|c| c.offset.first().copied());
                let complete = chunks.len() as u64 == len.div_ceil(chunk_len)
                    && chunks.iter().enumerate().all(|(k, c)| c.offset[..] == [k as u64 * chunk_len]);
                if !complete {
                    return None;
                }
                let runs = chunks.iter().map(|c| Run {
                    address: c.address,
                    stored: c.storage_size,
                    start: c.offset[0],
                    values: chunk_len,
                    filter_mask: c.filter_mask,
                });
                runs.collect()
            }
            _ => return None,
        };
        let file = File::open(path).ok()?;
        Some(ParallelReader { path: path.to_path_buf(), object: object.to_string(), file, runs, len, kind, filters })
    }

    fn invalid(&self, reason: String) -> IoError {
        IoError::Invalid { path: self.path.clone(), object: self.object.clone(), reason }
    }

    /// Calls `visit(start, values)` on consecutive runs of values covering the whole dataset,
    /// in order; runs are decoded in parallel a group at a time.
    ///
    /// # Errors
    /// [`IoError::Read`] if the file cannot be read, [`IoError::Invalid`] for a run that is cut
    /// short or does not inflate to its size; any error of `visit`.
    pub(crate) fn for_each_window<T: Element>(
        &self,
        mut visit: impl FnMut(u64, &[T]) -> Result<(), IoError>,
    ) -> Result<(), IoError> {
        let run_bytes = self.runs.first().map_or(1, |r| r.values * self.kind.size() as u64);
        let per_group = ((GROUP_BYTES / run_bytes) as usize).max(2 * rayon::current_num_threads());
        for group in self.runs.chunks(per_group) {
            let decoded: Vec<Vec<T>> = group.par_iter().map(|r| self.decode(r)).collect::<Result<_, _>>()?;
            for (run, values) in group.iter().zip(decoded) {
                let valid = (self.len - run.start).min(run.values) as usize;
                visit(run.start, &values[..valid])?;
            }
        }
        Ok(())
    }

    /// Decodes the whole dataset into `out` (as long as the dataset); see [`Self::read_range_into`].
    ///
    /// # Errors
    /// As [`Self::for_each_window`], and [`IoError::Invalid`] if `out` has the wrong length.
    pub(crate) fn read_into<T: Element>(&self, out: &mut [T]) -> Result<(), IoError> {
        if out.len() as u64 != self.len {
            return Err(self.invalid(format!("has {} values, expected {}", self.len, out.len())));
        }
        self.read_range_into(0, out)
    }

    /// Decodes values `start..start + out.len()` into `out`, the runs that hold them in parallel
    /// straight into their place; an unfiltered run stored as `T` is read into `out` with no copy
    /// (only the part asked for), a filtered one is decoded whole and the part copied.
    ///
    /// # Errors
    /// As [`Self::for_each_window`], and [`IoError::Invalid`] for a range past the dataset's end.
    pub(crate) fn read_range_into<T: Element>(&self, start: u64, out: &mut [T]) -> Result<(), IoError> {
        let end = start + out.len() as u64;
        if end > self.len {
            return Err(self.invalid(format!("values {start}..{end} asked of {}", self.len)));
        }
        let first = self.runs.partition_point(|r| r.start + r.values <= start);
        let mut pieces = Vec::new();
        let mut rest = out;
        for run in self.runs[first..].iter().take_while(|r| r.start < end) {
            let (lo, hi) = (run.start.max(start), (run.start + run.values).min(end));
            let (piece, tail) = std::mem::take(&mut rest).split_at_mut((hi - lo) as usize);
            rest = tail;
            pieces.push((run, (lo - run.start) as usize, piece));
        }
        let size = self.kind.size();
        pieces.into_par_iter().try_for_each_init(Vec::new, |buf, (run, skip, dst)| {
            let filtered = self.filters.iter().any(|&(_, bit)| run.filter_mask & bit == 0);
            if !filtered && size == size_of::<T>() && cfg!(target_endian = "little") {
                // Stored values as wide as `T` are read into `out` itself and, unless they are of
                // `T`'s kind, converted in place (no buffer, no second touch of new memory).
                let part = Run { address: run.address + (skip * size) as u64, start: run.start + skip as u64, ..*run };
                self.read_at(&part, bytemuck::cast_slice_mut(dst))?;
                if T::KIND != self.kind {
                    convert_in_place(dst, self.kind);
                }
                Ok(())
            } else {
                self.decode_bytes(run, buf)?;
                T::convert_into(&buf[skip * size..(skip + dst.len()) * size], self.kind, dst);
                Ok(())
            }
        })
    }

    /// Fills `buf` from the file at the run's address.
    fn read_at(&self, run: &Run, buf: &mut [u8]) -> Result<(), IoError> {
        self.file.read_exact_at(buf, run.address).map_err(|source| match source.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                self.invalid(format!("values from {} are cut short (truncated file?)", run.start))
            }
            _ => IoError::Read { path: self.path.clone(), source },
        })
    }

    /// Reads, inflates, unshuffles and converts one run.
    fn decode<T: Element>(&self, run: &Run) -> Result<Vec<T>, IoError> {
        let mut bytes = Vec::new();
        self.decode_bytes(run, &mut bytes)?;
        let mut values = vec![T::zeroed(); run.values as usize];
        T::convert_into(&bytes, self.kind, &mut values);
        Ok(values)
    }

    /// Leaves in `bytes` the run's values as stored once read, inflated and unshuffled.
    fn decode_bytes(&self, run: &Run, bytes: &mut Vec<u8>) -> Result<(), IoError> {
        bytes.resize(usize::try_from(run.stored).map_err(|_| self.invalid("a run too large".into()))?, 0);
        self.read_at(run, bytes)?;
        let size = self.kind.size();
        let expected = run.values as usize * size;
        for &(id, _) in self.filters.iter().rev().filter(|&&(_, bit)| run.filter_mask & bit == 0) {
            *bytes = match id {
                DEFLATE => {
                    let mut out = vec![0u8; expected];
                    let (done, code) = zlib_rs::decompress_slice(&mut out, bytes, zlib_rs::InflateConfig::default());
                    if code != zlib_rs::ReturnCode::Ok {
                        return Err(self.invalid(format!(
                            "chunk at offset {} does not inflate to {expected} bytes ({code:?})",
                            run.start
                        )));
                    }
                    let n = done.len();
                    out.truncate(n);
                    out
                }
                _ => unshuffle(bytes, size),
            };
        }
        if bytes.len() != expected {
            return Err(self.invalid(format!(
                "chunk at offset {} decodes to {} bytes, expected {expected}",
                run.start,
                bytes.len()
            )));
        }
        Ok(())
    }
}

/// The stored numeric type of `ds`, when it is one taken here.
fn stored_kind(ds: &Dataset) -> Option<Kind> {
    let little_endian = matches!(
        ds.datatype().ok()?,
        Datatype::FixedPoint { byte_order: DatatypeByteOrder::LittleEndian, .. }
            | Datatype::FloatingPoint { byte_order: DatatypeByteOrder::LittleEndian, .. }
    );
    if !little_endian {
        return None;
    }
    Some(match ds.dtype().ok()? {
        DType::F32 => Kind::F32,
        DType::F64 => Kind::F64,
        DType::I8 => Kind::I8,
        DType::I16 => Kind::I16,
        DType::I32 => Kind::I32,
        DType::I64 => Kind::I64,
        DType::U8 => Kind::U8,
        DType::U16 => Kind::U16,
        DType::U32 => Kind::U32,
        DType::U64 => Kind::U64,
        _ => return None,
    })
}

/// Undoes HDF5's shuffle filter: byte j of element i was stored at `j · n + i`.
fn unshuffle(bytes: &[u8], size: usize) -> Vec<u8> {
    let n = bytes.len() / size;
    let mut out = vec![0u8; bytes.len()];
    for j in 0..size {
        for i in 0..n {
            out[i * size + j] = bytes[j * n + i];
        }
    }
    // A trailing partial element is stored unshuffled.
    out[n * size..].copy_from_slice(&bytes[n * size..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unshuffle_inverts_the_byte_transpose() {
        // Three u16 values 0x0201, 0x0403, 0x0605: low bytes first, then high bytes.
        assert_eq!(unshuffle(&[1, 3, 5, 2, 4, 6], 2), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(unshuffle(&[1, 3, 2, 4, 9], 2), vec![1, 2, 3, 4, 9]);
    }

    /// Reads `name` through both parallel paths (checking the windows come in order, and that
    /// both agree, errors included).
    fn read_parallel<T: Element + PartialEq + std::fmt::Debug>(
        path: &Path,
        ds: &Dataset,
        name: &str,
    ) -> Result<Vec<T>, IoError> {
        let reader = ParallelReader::new(path, name, ds).unwrap_or_else(|| panic!("{name} not taken"));
        let mut windows = Vec::new();
        let by_window = reader.for_each_window(|start, v: &[T]| {
            assert_eq!(start, windows.len() as u64);
            windows.extend_from_slice(v);
            Ok(())
        });
        let mut whole = vec![T::zeroed(); ds.shape().unwrap()[0] as usize];
        let at_once = reader.read_into(&mut whole);
        match (by_window, at_once) {
            (Ok(()), Ok(())) => {
                assert_eq!(windows, whole, "{name}: the two paths differ");
                Ok(whole)
            }
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string(), "{name}: the two paths fail differently");
                Err(a)
            }
            (a, b) => panic!("{name}: one path failed: {a:?} vs {b:?}"),
        }
    }

    /// 10,007 values (a last chunk partial, several contiguous runs when `n` is large).
    fn values(n: usize) -> (Vec<f32>, Vec<i32>) {
        let floats = (0..n).map(|i| ((i * 7919) % 1000) as f32 * 0.25).collect();
        let ints = (0..n).map(|i| (i * 31 % 5000) as i32 - 7).collect();
        (floats, ints)
    }

    /// A file with gzip (with and without shuffle), unfiltered chunked, contiguous, lzf and 2-D datasets.
    fn write_fixture(path: &Path, n: usize) {
        let (floats, ints) = values(n);
        let mut fb = hdf5_pure::FileBuilder::new();
        fb.create_dataset("shuffled").with_f32_data(&floats).with_chunks(&[1000]).with_shuffle().with_deflate(4);
        fb.create_dataset("deflated").with_i32_data(&ints).with_chunks(&[1000]).with_deflate(6);
        fb.create_dataset("plain").with_i32_data(&ints).with_chunks(&[1000]);
        fb.create_dataset("contiguous").with_f32_data(&floats);
        fb.create_dataset("lzf").with_i32_data(&ints).with_chunks(&[1000]).with_lzf();
        fb.create_dataset("matrix").with_i32_data(&ints[..1000]).with_shape(&[100, 10]);
        fb.write(path).unwrap();
    }

    #[test]
    fn runs_decode_like_hdf5_pure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.h5");
        // Above 2 Mi values the contiguous dataset is read in three runs, the last one partial.
        let n = (2 << 20) + 10_007;
        write_fixture(&path, n);
        let (floats, _) = values(n);
        let file = hdf5_pure::File::open(&path).unwrap();
        let root = file.root();
        for name in ["shuffled", "contiguous"] {
            let ds = root.dataset(name).unwrap();
            assert_eq!(read_parallel::<f32>(&path, &ds, name).unwrap(), ds.read_f32().unwrap(), "{name}");
            assert_eq!(read_parallel::<f32>(&path, &ds, name).unwrap(), floats, "{name}");
        }
        for name in ["deflated", "plain"] {
            let ds = root.dataset(name).unwrap();
            let want = ds.read_i64().unwrap();
            assert_eq!(read_parallel::<i64>(&path, &ds, name).unwrap(), want, "{name}");
            // As sparse indices: the negative values saturate.
            let indices: Vec<u32> = want.iter().map(|&v| u32::try_from(v).unwrap_or(u32::MAX)).collect();
            assert_eq!(read_parallel::<u32>(&path, &ds, name).unwrap(), indices, "{name}");
            // A range across chunks, starting inside one (read in place for `plain`).
            let mut part = vec![0u32; 2500];
            ParallelReader::new(&path, name, &ds).unwrap().read_range_into(1234, &mut part).unwrap();
            assert_eq!(part, indices[1234..3734], "{name}");
        }
        let contiguous = ParallelReader::new(&path, "contiguous", &root.dataset("contiguous").unwrap()).unwrap();
        let err = contiguous.read_into(&mut [0f32; 3]).unwrap_err().to_string();
        assert!(err.contains(&format!("has {n} values, expected 3")), "{err}");
        for name in ["lzf", "matrix"] {
            assert!(ParallelReader::new(&path, name, &root.dataset(name).unwrap()).is_none(), "{name} taken");
        }
    }

    #[test]
    fn damaged_runs_are_errors_naming_the_dataset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.h5");
        write_fixture(&path, 10_007);
        let file = hdf5_pure::File::open(&path).unwrap();
        let root = file.root();
        let deflated = root.dataset("deflated").unwrap();
        let contiguous = root.dataset("contiguous").unwrap();
        let deflated_reader = ParallelReader::new(&path, "deflated", &deflated).unwrap();
        let contiguous_reader = ParallelReader::new(&path, "contiguous", &contiguous).unwrap();
        let (chunk, end) = (deflated_reader.runs[3], contiguous_reader.runs[0]);
        drop((deflated_reader, contiguous_reader));
        let mut bytes = std::fs::read(&path).unwrap();
        // Garbage in the middle of one deflate stream.
        let at = (chunk.address + chunk.stored / 2) as usize;
        bytes[at..at + 16].fill(0xA5);
        let damaged = dir.path().join("damaged.h5");
        std::fs::write(&damaged, &bytes).unwrap();
        let err = read_parallel::<i64>(&damaged, &deflated, "X/indices").unwrap_err().to_string();
        assert!(
            err.contains("damaged.h5") && err.contains("X/indices") && err.contains("chunk at offset 3000"),
            "{err}"
        );
        // A file cut inside the contiguous dataset.
        let cut = (end.address + end.stored / 2) as usize;
        let truncated = dir.path().join("truncated.h5");
        std::fs::write(&truncated, &bytes[..cut]).unwrap();
        let err = read_parallel::<f32>(&truncated, &contiguous, "X/data").unwrap_err().to_string();
        assert!(err.contains("truncated.h5") && err.contains("X/data") && err.contains("cut short"), "{err}");
    }

    #[test]
    fn values_convert_like_casts() {
        fn convert<T: Element>(raw: &[u8], kind: Kind) -> Vec<T> {
            let mut out = vec![T::zeroed(); raw.len() / kind.size()];
            T::convert_into(raw, kind, &mut out);
            out
        }
        let raw: Vec<u8> = [1.5f64, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(convert::<f32>(&raw, Kind::F64), vec![1.5f32, -2.0]);
        assert_eq!(convert::<i64>(&[0xff, 0x7f], Kind::I8), vec![-1i64, 127]);
        assert_eq!(convert::<i64>(&[0xfe, 0xff], Kind::U16), vec![65534i64]);
        // Indices that do not fit u32 saturate instead of wrapping to a valid index.
        let raw: Vec<u8> = [-1i64, 7, 1 << 32].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(convert::<u32>(&raw, Kind::I64), vec![u32::MAX, 7, u32::MAX]);
        assert_eq!(convert::<u32>(&u64::MAX.to_le_bytes(), Kind::U64), vec![u32::MAX]);
    }
}
