//! Arrow IPC files without copies: decoding straight from a buffer (a mapped file or bytes) into
//! arrays that view it, and writing a batch at a time to any writer.
//!
//! `arrow_ipc::reader::FileReader` reads each batch's body into a buffer of its own; here the
//! footer names each block and [`FileDecoder`] builds the arrays over slices of one [`Buffer`],
//! so a 400 MB matrix read from the cache costs its page faults, not an allocation and a copy.

use std::fs::File;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;

use arrow_buffer::Buffer;
use arrow_ipc::reader::{FileDecoder, read_footer_length};
use arrow_ipc::writer::FileWriter;
use arrow_ipc::{Block, convert::try_fb_to_schema, root_as_footer};
use arrow_schema::{ArrowError, Schema};

use super::{Table, TableError};

/// Writes record batches of one schema as an Arrow IPC file.
pub struct BatchWriter<W: std::io::Write> {
    inner: FileWriter<W>,
}

impl<W: std::io::Write> BatchWriter<W> {
    /// Starts a file of `schema` on `out`.
    pub fn new(out: W, schema: &Schema) -> Result<Self, TableError> {
        Ok(BatchWriter { inner: FileWriter::try_new(out, schema)? })
    }

    /// Appends one batch.
    pub fn write(&mut self, batch: &arrow_array::RecordBatch) -> Result<(), TableError> {
        Ok(self.inner.write(batch)?)
    }

    /// Writes the footer and returns the writer.
    pub fn finish(mut self) -> Result<W, TableError> {
        self.inner.finish()?;
        Ok(self.inner.into_inner()?)
    }
}

/// Maps `path` and decodes it (see [`decode`]).
pub fn map(path: &Path) -> Result<Table, TableError> {
    let io = |source| TableError::Io { path: path.into(), source };
    let file = File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.len() == 0 {
        return Err(bad("the file is empty"));
    }
    // SAFETY: cache objects are written once under their content hash and never modified; a file
    // truncated under the mapping would fault, as reading it would have failed.
    let mmap = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
    let len = mmap.len();
    let ptr = NonNull::new(mmap.as_ptr().cast_mut()).ok_or_else(|| bad("mapping at a null address"))?;
    // SAFETY: `ptr` and `len` describe the mapping, which the buffer owns (through the Arc)
    // for as long as any array views it.
    let buffer = unsafe { Buffer::from_custom_allocation(ptr, len, Arc::new(mmap)) };
    let (table, spans) = decode_spans(buffer)?;
    let base = ptr.as_ptr() as usize;
    Ok(table.mapped(spans.into_iter().map(|s| s.start + base..s.end + base).collect()))
}

/// Drops the pages of `span` (addresses inside a read-only file mapping) from this process's
/// resident set; they stay in the page cache and fault back in when read. Only whole pages
/// inside the span are dropped.
pub(super) fn release(span: &std::ops::Range<usize>) {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
    let (start, end) = (span.start.next_multiple_of(page), span.end / page * page);
    if start < end {
        // SAFETY: the range lies inside a live shared read-only file mapping (the table owns
        // it); MADV_DONTNEED on such a mapping only unmaps pages, whose contents the file keeps.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}

/// Decodes every record batch of the IPC file in `buffer`; arrays view `buffer` wherever their
/// data are aligned (they are in files arrow-rs writes, which pad every buffer to 64 bytes).
pub fn decode(buffer: Buffer) -> Result<Table, TableError> {
    Ok(decode_spans(buffer)?.0)
}

/// [`decode`], with the byte range of each batch's block in `buffer`.
fn decode_spans(buffer: Buffer) -> Result<(Table, Vec<std::ops::Range<usize>>), TableError> {
    let n = buffer.len();
    if n < 10 + 6 {
        return Err(bad("too short for an Arrow IPC file"));
    }
    let trailer: [u8; 10] = buffer[n - 10..].try_into().map_err(|_| bad("no trailer"))?;
    let footer_len = read_footer_length(trailer)?;
    let footer_start = (n - 10).checked_sub(footer_len).ok_or_else(|| bad("footer longer than the file"))?;
    let footer = root_as_footer(&buffer[footer_start..n - 10]).map_err(|e| bad(&format!("bad footer: {e}")))?;
    let schema = Arc::new(try_fb_to_schema(footer.schema().ok_or_else(|| bad("no schema in the footer"))?)?);
    let mut decoder = FileDecoder::new(schema.clone(), footer.version());
    let slice = |block: &Block| -> Result<Buffer, TableError> {
        let start = usize::try_from(block.offset()).map_err(|_| bad("negative block offset"))?;
        let len = block.metaDataLength() as usize + block.bodyLength() as usize;
        if start.checked_add(len).is_none_or(|end| end > footer_start) {
            return Err(bad("a block reaches past the footer"));
        }
        Ok(buffer.slice_with_length(start, len))
    };
    for block in footer.dictionaries().iter().flatten() {
        decoder.read_dictionary(block, &slice(block)?)?;
    }
    let (mut batches, mut spans) = (Vec::new(), Vec::new());
    for block in footer.recordBatches().iter().flatten() {
        if let Some(batch) = decoder.read_record_batch(block, &slice(block)?)? {
            batches.push(batch);
            let start = block.offset() as usize;
            spans.push(start..start + block.metaDataLength() as usize + block.bodyLength() as usize);
        }
    }
    Ok((Table::from_batches(schema, batches)?, spans))
}

/// The batches of the Arrow IPC file at `path`: how many, and the bytes of the largest, from
/// its footer alone (a few KiB read, whatever the file's size); `None` for a file that cannot be
/// read or is not one. A kind estimating its memory over a table it reads a batch at a time
/// needs no more.
pub fn batch_sizes(path: &Path) -> Option<(usize, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path).ok()?;
    let n = file.metadata().ok()?.len();
    let mut trailer = [0u8; 10];
    file.seek(SeekFrom::Start(n.checked_sub(10)?)).ok()?;
    file.read_exact(&mut trailer).ok()?;
    let footer_len = read_footer_length(trailer).ok()? as u64;
    let mut footer = vec![0u8; usize::try_from(footer_len).ok()?];
    file.seek(SeekFrom::Start(n.checked_sub(10 + footer_len)?)).ok()?;
    file.read_exact(&mut footer).ok()?;
    let blocks = root_as_footer(&footer).ok()?.recordBatches()?;
    let largest = blocks.iter().map(|b| b.metaDataLength() as u64 + b.bodyLength() as u64).max().unwrap_or(0);
    Some((blocks.len(), largest))
}

fn bad(message: &str) -> TableError {
    TableError::Arrow(ArrowError::IpcError(format!("not an Arrow IPC file: {message}")))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::table::TableBuilder;

    fn two_batches() -> Table {
        let a = TableBuilder::new().str("g", vec!["a".into(), "b".into()]).f64("x", vec![1.0, 2.0]).build().unwrap();
        let b = TableBuilder::new().str("g", vec!["c".into()]).f64("x", vec![3.0]).build().unwrap();
        Table::from_batches(a.schema(), vec![a.batch().clone(), b.batch().clone()]).unwrap()
    }

    #[test]
    fn a_mapped_file_reads_back_every_batch_without_copying() {
        let t = two_batches();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.arrow");
        std::fs::File::create(&path).unwrap().write_all(&t.to_ipc().unwrap()).unwrap();
        let back = Table::map_ipc(&path).unwrap();
        assert_eq!(back.batches().len(), 2);
        assert_eq!(back, t);
        assert_eq!(back.f64_column("x").unwrap(), vec![1.0, 2.0, 3.0]);
        // The float column is a view into the mapping, not a copy.
        let mapped = std::fs::read(&path).unwrap();
        let col = back.batches()[1].column(1).to_data().buffers()[0].as_ptr() as usize;
        let file = back.batches()[0].column(1).to_data().buffers()[0].as_ptr() as usize;
        assert!(col > file && col - file < mapped.len(), "columns lie in one mapping");
        // Same bytes as the arrow-rs reader sees.
        let reader = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(mapped), None).unwrap();
        let batches: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(batches.as_slice(), back.batches());
    }

    #[test]
    fn batch_sizes_come_from_the_footer_and_match_the_blocks() {
        let bytes = two_batches().to_ipc().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.arrow");
        std::fs::write(&path, &bytes).unwrap();
        let (_, spans) = decode_spans(arrow_buffer::Buffer::from(bytes.clone())).unwrap();
        let largest = spans.iter().map(|s| s.len() as u64).max().unwrap();
        assert_eq!(batch_sizes(&path), Some((2, largest)));
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert_eq!(batch_sizes(&path), None, "a cut file");
        assert_eq!(batch_sizes(&dir.path().join("none")), None);
    }

    #[test]
    fn truncated_or_foreign_bytes_are_errors_not_panics() {
        let bytes = two_batches().to_ipc().unwrap();
        for cut in [0, 5, 20, bytes.len() / 2, bytes.len() - 1] {
            assert!(Table::from_ipc(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(Table::from_ipc(b"a,b\n1,2\n this is a csv file, not arrow").is_err());
        let mut flipped = bytes.clone();
        let n = flipped.len();
        flipped[n - 12] ^= 0xff;
        let _ = Table::from_ipc(&flipped);
    }
}
