//! Reading and writing tables as files, chosen by extension:
//! `.csv`, `.tsv`, `.txt` (a list, one value a line, or tab-separated with a header),
//! each optionally `.gz`; `.arrow`/`.feather`/`.ipc`; `.parquet`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::Path;
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchReader, StringArray};
use arrow_schema::{Field, Schema};

use super::{Table, TableError};

/// The file formats gcrl reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Tsv,
    Txt,
    Arrow,
    Parquet,
}

fn format_of(path: &Path) -> Result<(Format, bool), TableError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    let (stem, gz) = match name.strip_suffix(".gz") {
        Some(s) => (s.to_string(), true),
        None => (name.clone(), false),
    };
    let ext = stem.rsplit('.').next().unwrap_or("");
    let format = match ext {
        "csv" => Format::Csv,
        "tsv" | "tab" => Format::Tsv,
        "txt" => Format::Txt,
        "arrow" | "feather" | "ipc" => Format::Arrow,
        "parquet" | "pq" => Format::Parquet,
        _ => {
            return Err(TableError::Format {
                path: path.into(),
                message:
                    "unknown table format; use one of .csv, .tsv, .txt (optionally .gz), .arrow, .feather, .parquet"
                        .into(),
            });
        }
    };
    if gz && matches!(format, Format::Arrow | Format::Parquet) {
        return Err(TableError::Format {
            path: path.into(),
            message: "only text tables may be gzip-compressed".into(),
        });
    }
    Ok((format, gz))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TableError + '_ {
    move |source| TableError::Io { path: path.into(), source }
}

fn open_text(path: &Path, gz: bool) -> Result<Box<dyn BufRead>, TableError> {
    let file = File::open(path).map_err(io_err(path))?;
    Ok(if gz {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    })
}

/// Reads a table file; the format comes from the extension.
pub fn read_table_file(path: &Path) -> Result<Table, TableError> {
    let (format, gz) = format_of(path)?;
    match format {
        Format::Arrow => {
            let bytes = std::fs::read(path).map_err(io_err(path))?;
            Table::from_ipc(&bytes)
                .map_err(|e| TableError::Format { path: path.into(), message: format!("not an Arrow IPC file ({e})") })
        }
        Format::Parquet => {
            let file = File::open(path).map_err(io_err(path))?;
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
            let schema = reader.schema();
            let batches = reader.collect::<Result<Vec<_>, _>>()?;
            concat(path, schema, batches)
        }
        Format::Csv => read_delimited(path, gz, b','),
        Format::Tsv => read_delimited(path, gz, b'\t'),
        Format::Txt => {
            let mut first = String::new();
            open_text(path, gz)?.read_line(&mut first).map_err(io_err(path))?;
            if first.contains('\t') { read_delimited(path, gz, b'\t') } else { read_list(path, gz) }
        }
    }
}

fn concat(path: &Path, schema: arrow_schema::SchemaRef, batches: Vec<RecordBatch>) -> Result<Table, TableError> {
    if batches.is_empty() {
        return Ok(Table::new(RecordBatch::new_empty(schema)));
    }
    let batch = arrow_select::concat::concat_batches(&schema, &batches)
        .map_err(|e| TableError::Format { path: path.into(), message: e.to_string() })?;
    Ok(Table::new(batch))
}

fn read_list(path: &Path, gz: bool) -> Result<Table, TableError> {
    let mut values = Vec::new();
    for line in open_text(path, gz)?.lines() {
        let line = line.map_err(io_err(path))?;
        let v = line.trim();
        if !v.is_empty() && !v.starts_with('#') {
            values.push(v.to_string());
        }
    }
    let schema = Arc::new(Schema::new(vec![Field::new("name", arrow_schema::DataType::Utf8, false)]));
    Ok(Table::new(RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(values))])?))
}

fn read_delimited(path: &Path, gz: bool, delimiter: u8) -> Result<Table, TableError> {
    let format = arrow_csv::reader::Format::default().with_header(true).with_delimiter(delimiter);
    let schema = if gz {
        let (schema, _) = format.infer_schema(open_text(path, gz)?, Some(10_000))?;
        schema
    } else {
        let mut file = File::open(path).map_err(io_err(path))?;
        let (schema, _) = format.infer_schema(&mut file, Some(10_000))?;
        file.rewind().map_err(io_err(path))?;
        schema
    };
    let schema = Arc::new(schema);
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(File::open(path).map_err(io_err(path))?))
    } else {
        Box::new(File::open(path).map_err(io_err(path))?)
    };
    let reader = arrow_csv::ReaderBuilder::new(schema.clone())
        .with_format(format)
        .with_batch_size(65_536)
        .build(reader)
        .map_err(|e| TableError::Format { path: path.into(), message: e.to_string() })?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TableError::Format { path: path.into(), message: e.to_string() })?;
    concat(path, schema, batches)
}

/// Writes a table; the format comes from the extension (`.csv`, `.tsv`, `.arrow`, `.feather`, `.parquet`).
pub fn write_table_file(table: &Table, path: &Path) -> Result<(), TableError> {
    let (format, gz) = format_of(path)?;
    if gz {
        return Err(TableError::Format { path: path.into(), message: "write plain text; compress afterwards".into() });
    }
    let file = File::create(path).map_err(io_err(path))?;
    match format {
        Format::Arrow => {
            let bytes = table.to_ipc()?;
            std::fs::write(path, bytes).map_err(io_err(path))?;
        }
        Format::Parquet => {
            let mut w = parquet::arrow::ArrowWriter::try_new(file, table.batch().schema(), None)?;
            w.write(table.batch())?;
            w.close()?;
        }
        Format::Csv | Format::Tsv | Format::Txt => {
            let delimiter = if format == Format::Csv { b',' } else { b'\t' };
            let mut w = arrow_csv::WriterBuilder::new().with_header(true).with_delimiter(delimiter).build(file);
            w.write(table.batch())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::TableBuilder;

    fn sample() -> Table {
        TableBuilder::new()
            .str("source", vec!["A".into(), "B".into()])
            .str("target", vec!["C".into(), "D".into()])
            .f64("weight", vec![0.5, -1.25])
            .build()
            .unwrap()
    }

    #[test]
    fn every_format_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        for ext in ["csv", "tsv", "arrow", "parquet"] {
            let path = dir.path().join(format!("t.{ext}"));
            write_table_file(&sample(), &path).unwrap();
            let back = read_table_file(&path).unwrap();
            assert_eq!(back.str_column("source").unwrap(), vec!["A", "B"], "{ext}");
            assert_eq!(back.f64_column("weight").unwrap(), vec![0.5, -1.25], "{ext}");
        }
    }

    #[test]
    fn a_txt_without_tabs_is_a_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tfs.txt");
        std::fs::write(&path, "GATA1\n\nSPI1\n").unwrap();
        assert_eq!(read_table_file(&path).unwrap().str_column("name").unwrap(), vec!["GATA1", "SPI1"]);
    }

    #[test]
    fn unknown_extension_names_the_file_and_the_choices() {
        let err = read_table_file(Path::new("x.xlsx")).unwrap_err().to_string();
        assert!(err.contains("x.xlsx") && err.contains(".parquet"), "{err}");
    }
}
