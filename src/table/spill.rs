//! Tables too big to hold: written to a file a batch at a time as they are made, and read back
//! from that file. The file is the table's stored form (for a task, a cache object named by its
//! content hash), so storing the table later costs nothing.
//!
//! The bytes are those [`Table::write_ipc`] gives for the same batches: a table is stored the
//! same whether it spilled or not.
//!
//! A spill file is written on a thread of its own, a batch behind the producer: writing into the
//! page cache costs about as much as making a batch of a big matrix, and the two overlap. At
//! most two batches are in flight (the one being written and the one handed over).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::ipc::BatchWriter;
use super::{Table, TableError};

/// Held batches up to this many bytes stay in memory; a table that grows past it spills. The
/// runner streams tables of this size or more to the cache too.
pub const SPILL_BYTES: usize = 8 << 20;

/// A file being written, which ends as a stored table (the cache's object writer).
pub trait SpillFile: std::io::Write + Send {
    /// Ends the file: the path to read it from and its name (content hash).
    fn finish(self: Box<Self>) -> Result<(PathBuf, String), TableError>;
}

/// Opens a new [`SpillFile`]; a task's context carries one (see `RunContext::spill`).
pub type Spill = Arc<dyn Fn() -> Result<Box<dyn SpillFile>, TableError> + Send + Sync>;

/// Collects a table's batches, in memory until they pass [`SPILL_BYTES`], then in a spill
/// file (when there is a [`Spill`]).
pub struct BatchSink {
    schema: SchemaRef,
    held: Vec<RecordBatch>,
    held_bytes: usize,
    spill: Option<Spill>,
    file: Option<Background>,
}

impl BatchSink {
    /// A sink for batches of `schema`, spilling through `spill` (none: always in memory).
    pub fn new(schema: SchemaRef, spill: Option<Spill>) -> Self {
        BatchSink { schema, held: Vec::new(), held_bytes: 0, spill, file: None }
    }

    /// The schema of the table.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Appends a batch (of the sink's schema).
    pub fn push(&mut self, batch: RecordBatch) -> Result<(), TableError> {
        if batch.schema() != self.schema {
            return Err(TableError::Arrow(arrow_schema::ArrowError::SchemaError(
                "a batch's schema differs from the table's".into(),
            )));
        }
        if let Some(file) = &mut self.file {
            return file.send(batch);
        }
        self.held_bytes += batch.get_array_memory_size();
        self.held.push(batch);
        if self.held_bytes >= SPILL_BYTES
            && let Some(spill) = &self.spill
        {
            let mut file = Background::start(BatchWriter::new(spill()?, &self.schema)?)?;
            for b in self.held.drain(..) {
                file.send(b)?;
            }
            self.file = Some(file);
        }
        Ok(())
    }

    /// The table: held in memory, or read from its spill file (then [`Table::stored_as`] names it).
    pub fn finish(self) -> Result<Table, TableError> {
        match self.file {
            None => Table::from_batches(self.schema, self.held),
            Some(file) => {
                let (path, hash) = file.finish()?.finish()?.finish()?;
                Ok(Table::map_ipc(&path)?.stored(hash))
            }
        }
    }
}

/// A spill file's writer on its own thread, fed batches in order.
struct Background {
    batches: Option<SyncSender<RecordBatch>>,
    writer: Option<JoinHandle<Result<BatchWriter<Box<dyn SpillFile>>, TableError>>>,
}

impl Background {
    fn start(mut file: BatchWriter<Box<dyn SpillFile>>) -> Result<Self, TableError> {
        // A rendezvous channel: `send` waits until the writer takes the batch, so one batch is
        // being written while the next is made, and no more.
        let (tx, rx) = sync_channel::<RecordBatch>(0);
        let writer = std::thread::Builder::new()
            .name("gcrl-spill".into())
            .spawn(move || {
                for batch in rx {
                    file.write(&batch)?;
                }
                Ok(file)
            })
            .map_err(|e| TableError::Spill(format!("cannot start the writer thread: {e}")))?;
        Ok(Background { batches: Some(tx), writer: Some(writer) })
    }

    /// Hands `batch` to the writer; fails with the writer's error once it has stopped.
    fn send(&mut self, batch: RecordBatch) -> Result<(), TableError> {
        match self.batches.as_ref().map(|tx| tx.send(batch)) {
            Some(Ok(())) => Ok(()),
            // The writer stopped on an error: that error is the answer.
            _ => Err(self.stop().err().unwrap_or_else(|| TableError::Spill("the writer thread stopped".into()))),
        }
    }

    /// Waits for every batch to be written; the writer, to end the file with.
    fn finish(mut self) -> Result<BatchWriter<Box<dyn SpillFile>>, TableError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<BatchWriter<Box<dyn SpillFile>>, TableError> {
        self.batches = None;
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(TableError::Spill("the writer thread panicked".into())),
            None => Err(TableError::Spill("the writer thread stopped".into())),
        }
    }
}

impl Drop for Background {
    /// A sink dropped unfinished (its task failed) still waits for its writer, so no thread
    /// outlives the task holding the file open.
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use arrow_array::{Float64Array, RecordBatch};

    use super::*;

    /// A spill file that writes to a path and names it by its length (the real one hashes).
    struct Plain(std::fs::File, PathBuf);

    impl Write for Plain {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.0.flush()
        }
    }

    impl SpillFile for Plain {
        fn finish(self: Box<Self>) -> Result<(PathBuf, String), TableError> {
            let len = self.0.metadata().map_err(|source| TableError::Io { path: self.1.clone(), source })?.len();
            Ok((self.1, len.to_string()))
        }
    }

    fn batches(n: usize, rows: usize) -> (SchemaRef, Vec<RecordBatch>) {
        let cols: Vec<Table> = (0..n)
            .map(|b| {
                let x = Float64Array::from_iter_values((0..rows).map(|i| (b * rows + i) as f64));
                Table::new(RecordBatch::try_from_iter([("x", Arc::new(x) as _)]).unwrap())
            })
            .collect();
        (cols[0].schema(), cols.iter().map(|t| t.batch().clone()).collect())
    }

    #[test]
    fn a_spilled_table_has_the_bytes_of_the_held_one_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spilled.arrow");
        let spill_path = path.clone();
        let spill: Spill = Arc::new(move || {
            let f = std::fs::File::create(&spill_path).unwrap();
            Ok(Box::new(Plain(f, spill_path.clone())) as Box<dyn SpillFile>)
        });
        // 5 batches of 400k f64 = 3.2 MB each: the third passes SPILL_BYTES.
        let (schema, parts) = batches(5, 400_000);
        let (mut spilled, mut held) =
            (BatchSink::new(schema.clone(), Some(spill)), BatchSink::new(schema.clone(), None));
        for b in &parts {
            spilled.push(b.clone()).unwrap();
            held.push(b.clone()).unwrap();
        }
        let (spilled, held) = (spilled.finish().unwrap(), held.finish().unwrap());
        assert_eq!(held.stored_as(), None);
        assert_eq!(spilled.stored_as(), Some(std::fs::metadata(&path).unwrap().len().to_string().as_str()));
        assert_eq!(std::fs::read(&path).unwrap(), held.to_ipc().unwrap());
        assert_eq!(spilled.batches().len(), 5);
        assert_eq!(spilled, held);
    }

    /// A spill file whose disk fills after `room` bytes.
    struct Full(usize);

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if buf.len() > self.0 {
                return Err(std::io::Error::other("no space left on device"));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl SpillFile for Full {
        fn finish(self: Box<Self>) -> Result<(PathBuf, String), TableError> {
            Err(TableError::Spill("finished a full file".into()))
        }
    }

    #[test]
    fn a_spill_file_that_fails_fails_the_table_with_its_error() {
        let (schema, parts) = batches(6, 400_000);
        for room in [100, 5 << 20, 12 << 20] {
            let spill: Spill = Arc::new(move || Ok(Box::new(Full(room)) as Box<dyn SpillFile>));
            let mut sink = BatchSink::new(schema.clone(), Some(spill));
            // The writer thread's error comes back from a later push or from finish, never lost.
            let pushed: Result<(), TableError> = parts.iter().try_for_each(|b| sink.push(b.clone()));
            let e = pushed.and_then(|()| sink.finish().map(|_| ())).unwrap_err().to_string();
            assert!(e.contains("no space left on device"), "room {room}: {e}");
        }
    }

    #[test]
    fn a_batch_of_another_schema_is_refused() {
        let (schema, _) = batches(1, 10);
        let other = RecordBatch::try_from_iter([("y", Arc::new(Float64Array::from(vec![1.0])) as _)]).unwrap();
        let e = BatchSink::new(schema, None).push(other).unwrap_err().to_string();
        assert!(e.contains("a batch's schema differs from the table's"), "{e}");
    }

    #[test]
    fn a_small_table_never_opens_a_spill_file() {
        let spill: Spill = Arc::new(|| panic!("a small table spilled"));
        let (schema, parts) = batches(3, 1000);
        let mut sink = BatchSink::new(schema, Some(spill));
        for b in parts {
            sink.push(b).unwrap();
        }
        assert_eq!(sink.finish().unwrap().n_rows(), 3000);
    }
}
