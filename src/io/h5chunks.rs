//! Parallel decoding of gzip-compressed 1-D HDF5 datasets (the `data` and `indices` arrays of a
//! sparse `.h5ad` matrix).
//!
//! hdf5-pure inflates a dataset's chunks one after the other on one thread, which made reading a
//! gzip-compressed matrix slower than anndata. Here hdf5-pure still parses the file (layout,
//! chunk index, filter pipeline, datatype) but the chunks' stored bytes are read directly and
//! inflated with flate2 on rayon's threads, a group of chunks at a time so memory stays at a few
//! MiB beyond the result; zlib-rs (the zlib port flate2 can use as its backend) inflates about
//! twice as fast as flate2's default miniz_oxide here. Only the common case is taken — a 1-D chunked little-endian numeric
//! dataset whose every chunk is allocated and whose filters are deflate and optionally shuffle;
//! anything else is left to hdf5-pure. Owns no knowledge of AnnData.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use hdf5_pure::{Chunk, DType, Dataset, Datatype, DatatypeByteOrder, Layout};
use rayon::prelude::*;

use crate::io::IoError;

/// HDF5 filter identifiers handled here.
const DEFLATE: u16 = 1;
const SHUFFLE: u16 = 2;
/// Decoded bytes handled per group of chunks decoded in parallel.
const GROUP_BYTES: u64 = 8 << 20;
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

/// A value type a dataset is read into, converted with `as` like hdf5-pure's `read_*` methods.
pub(crate) trait Element: Copy + Send + Sync {
    /// Decodes little-endian values of kind `kind`.
    fn convert(raw: &[u8], kind: Kind) -> Vec<Self>;
}

macro_rules! element {
    ($t:ty) => {
        impl Element for $t {
            fn convert(raw: &[u8], kind: Kind) -> Vec<$t> {
                macro_rules! le {
                    ($s:ty) => {
                        raw.chunks_exact(size_of::<$s>())
                            .map(|b| <$s>::from_le_bytes(b.try_into().expect("exact chunk")) as $t)
                            .collect()
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
element!(f32);
element!(i64);

/// A gzip-compressed 1-D dataset located in its file, ready for parallel decoding.
pub(crate) struct ChunkedReader {
    path: PathBuf,
    object: String,
    /// Every chunk, in order of offset (chunk k starts at k · `chunk_len`).
    chunks: Vec<Chunk>,
    chunk_len: u64,
    len: u64,
    kind: Kind,
    /// The filter pipeline in write order: (identifier, applies unless this mask bit is set).
    filters: Vec<(u16, u32)>,
}

impl ChunkedReader {
    /// The reader for dataset `ds` (named `object` in the file at `path`), or `None` when it is
    /// not a case handled here (then read it through hdf5-pure, which also reports any error).
    pub(crate) fn new(path: &Path, object: &str, ds: &Dataset) -> Option<Self> {
        let Ok(Layout::Chunked { chunk_shape, .. }) = ds.layout() else { return None };
        let shape = ds.shape().ok()?;
        let (&[chunk_len], &[len]) = (&chunk_shape[..], &shape[..]) else { return None };
        let kind = match (ds.dtype().ok()?, ds.datatype().ok()?) {
            (dtype, Datatype::FixedPoint { byte_order: DatatypeByteOrder::LittleEndian, .. })
            | (dtype, Datatype::FloatingPoint { byte_order: DatatypeByteOrder::LittleEndian, .. }) => match dtype {
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
            },
            _ => return None,
        };
        let filters: Vec<(u16, u32)> = ds.filter_pipeline().iter().enumerate().map(|(i, f)| (f.id, 1 << i)).collect();
        let handled = filters.iter().all(|&(id, _)| id == DEFLATE || id == SHUFFLE);
        // h5py's chunks are at most 1 MiB; a larger one (or a corrupt size) goes to hdf5-pure.
        let sane = chunk_len > 0 && chunk_len.checked_mul(kind.size() as u64).is_some_and(|b| b <= MAX_CHUNK_BYTES);
        if !sane || !handled || !filters.iter().any(|&(id, _)| id == DEFLATE) {
            return None;
        }
        let mut chunks = ds.chunks().ok()?;
        chunks.sort_by_key(|c| c.offset.first().copied());
        let complete = chunks.len() as u64 == len.div_ceil(chunk_len)
            && chunks.iter().enumerate().all(|(k, c)| c.offset[..] == [k as u64 * chunk_len]);
        complete.then(|| ChunkedReader {
            path: path.to_path_buf(),
            object: object.to_string(),
            chunks,
            chunk_len,
            len,
            kind,
            filters,
        })
    }

    fn invalid(&self, reason: String) -> IoError {
        IoError::Invalid { path: self.path.clone(), object: self.object.clone(), reason }
    }

    /// Calls `visit(start, values)` on consecutive runs of values covering the whole dataset,
    /// in order; chunks are decoded in parallel a group at a time.
    ///
    /// # Errors
    /// [`IoError::Read`] if the file cannot be read, [`IoError::Invalid`] for a chunk that does
    /// not inflate to its size; any error of `visit`.
    pub(crate) fn for_each_window<T: Element>(
        &self,
        mut visit: impl FnMut(u64, &[T]) -> Result<(), IoError>,
    ) -> Result<(), IoError> {
        let chunk_bytes = self.chunk_len * self.kind.size() as u64;
        let per_group = ((GROUP_BYTES / chunk_bytes) as usize).max(2 * rayon::current_num_threads());
        for group in self.chunks.chunks(per_group) {
            let decoded: Vec<Vec<T>> = group.par_iter().map(|c| self.decode(c)).collect::<Result<_, _>>()?;
            for (chunk, values) in group.iter().zip(decoded) {
                let start = chunk.offset[0];
                let valid = (self.len - start).min(self.chunk_len) as usize;
                visit(start, &values[..valid])?;
            }
        }
        Ok(())
    }

    /// Reads, inflates, unshuffles and converts one chunk.
    fn decode<T: Element>(&self, chunk: &Chunk) -> Result<Vec<T>, IoError> {
        let read_error = |source| IoError::Read { path: self.path.clone(), source };
        let mut file = std::fs::File::open(&self.path).map_err(read_error)?;
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(chunk.address)).map_err(read_error)?;
        (&mut file).take(chunk.storage_size).read_to_end(&mut bytes).map_err(read_error)?;
        if bytes.len() as u64 != chunk.storage_size {
            return Err(self.invalid(format!("chunk at offset {} is cut short (truncated file?)", chunk.offset[0])));
        }
        let size = self.kind.size();
        let expected = self.chunk_len as usize * size;
        for &(id, _) in self.filters.iter().rev().filter(|&&(_, bit)| chunk.filter_mask & bit == 0) {
            bytes = match id {
                DEFLATE => {
                    let mut out = vec![0u8; expected];
                    let (done, code) = zlib_rs::decompress_slice(&mut out, &bytes, zlib_rs::InflateConfig::default());
                    if code != zlib_rs::ReturnCode::Ok {
                        return Err(self.invalid(format!(
                            "chunk at offset {} does not inflate to {expected} bytes ({code:?})",
                            chunk.offset[0]
                        )));
                    }
                    let n = done.len();
                    out.truncate(n);
                    out
                }
                _ => unshuffle(&bytes, size),
            };
        }
        if bytes.len() != expected {
            return Err(self.invalid(format!(
                "chunk at offset {} decodes to {} bytes, expected {expected}",
                chunk.offset[0],
                bytes.len()
            )));
        }
        Ok(T::convert(&bytes, self.kind))
    }
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

    /// Reads `name` through the parallel path, checking the windows come in order.
    fn read_parallel<T: Element>(path: &Path, ds: &Dataset, name: &str) -> Vec<T> {
        let reader = ChunkedReader::new(path, name, ds).unwrap_or_else(|| panic!("{name} not taken"));
        let mut got = Vec::new();
        reader
            .for_each_window(|start, v: &[T]| {
                assert_eq!(start, got.len() as u64);
                got.extend_from_slice(v);
                Ok(())
            })
            .unwrap();
        got
    }

    #[test]
    fn chunks_decode_like_hdf5_pure() {
        // 10,007 values in chunks of 1,000 (the last one partial), gzip with and without
        // shuffle; an lzf or unfiltered dataset is left to hdf5-pure.
        let n = 10_007;
        let floats: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 * 0.25).collect();
        let ints: Vec<i32> = (0..n).map(|i| (i * 31 % 5000) as i32 - 7).collect();
        let mut fb = hdf5_pure::FileBuilder::new();
        fb.create_dataset("shuffled").with_f32_data(&floats).with_chunks(&[1000]).with_shuffle().with_deflate(4);
        fb.create_dataset("deflated").with_i32_data(&ints).with_chunks(&[1000]).with_deflate(6);
        fb.create_dataset("plain").with_i32_data(&ints).with_chunks(&[1000]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chunks.h5");
        fb.write(&path).unwrap();
        let file = hdf5_pure::File::open(&path).unwrap();
        let root = file.root();
        let shuffled = root.dataset("shuffled").unwrap();
        assert_eq!(read_parallel::<f32>(&path, &shuffled, "shuffled"), shuffled.read_f32().unwrap());
        assert_eq!(read_parallel::<f32>(&path, &shuffled, "shuffled"), floats);
        let deflated = root.dataset("deflated").unwrap();
        assert_eq!(read_parallel::<i64>(&path, &deflated, "deflated"), deflated.read_i64().unwrap());
        assert!(ChunkedReader::new(&path, "plain", &root.dataset("plain").unwrap()).is_none());
    }

    #[test]
    fn values_convert_like_casts() {
        let raw: Vec<u8> = [1.5f64, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(f32::convert(&raw, Kind::F64), vec![1.5f32, -2.0]);
        assert_eq!(i64::convert(&[0xff, 0x7f], Kind::I8), vec![-1i64, 127]);
        assert_eq!(i64::convert(&[0xfe, 0xff], Kind::U16), vec![65534i64]);
    }
}
