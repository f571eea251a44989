//! Decoding the records of an HDF5 compound dataset into typed columns: the dataframes of
//! anndata < 0.7, which stored `obs` and `var` as one structured numpy array.
//!
//! hdf5-pure 0.47 reads compound datasets only through its [`hdf5_pure::CompoundType`]
//! trait (numeric tuples), but it gives the exact type with every field's byte offset
//! ([`hdf5_pure::Dataset::datatype`]) and the raw, unfiltered records
//! ([`hdf5_pure::Dataset::read_raw`]); this module decodes the fields from those bytes.
//! Fields: integers of 1–8 bytes (either byte order), 4- and 8-byte floats, fixed-length
//! strings (numpy `S`, what anndata wrote), and h5py's boolean enum. Variable-length
//! strings inside a record point into the global heap, which hdf5-pure does not expose for
//! compound fields; they are refused by name. No I/O here.

use hdf5_pure::{CompoundMember, Datatype, DatatypeByteOrder, StringPadding};

use crate::io::frame::{Column, ColumnValues};

/// Why records could not be decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CompoundError {
    /// The dataset's type is not compound.
    NotCompound,
    /// A field (named) has a type this module does not decode (described).
    Field(String, String),
    /// The bytes do not match the record size and count.
    Size(String),
}

/// The fields of `n` records of type `datatype` held in `raw`, as columns in field order.
///
/// # Errors
/// [`CompoundError`] when the type is not compound, a field has an unsupported type, or
/// `raw` is not `n` records long.
pub(crate) fn compound_columns(datatype: &Datatype, raw: &[u8], n: usize) -> Result<Vec<Column>, CompoundError> {
    let Datatype::Compound { size, members } = datatype else { return Err(CompoundError::NotCompound) };
    let size = *size as usize;
    if size == 0 || raw.len() != size * n {
        return Err(CompoundError::Size(format!(
            "{} bytes of records, expected {n} records of {size} bytes",
            raw.len()
        )));
    }
    members
        .iter()
        .map(|m| {
            let values =
                field(m, raw, size).ok_or_else(|| CompoundError::Field(m.name.clone(), describe(&m.datatype)))?;
            Ok(Column { name: m.name.clone(), values })
        })
        .collect()
}

/// The values of one field across the records, or `None` when its type is not decoded here
/// or it does not fit inside the record.
fn field(m: &CompoundMember, raw: &[u8], record: usize) -> Option<ColumnValues> {
    let offset = usize::try_from(m.byte_offset).ok()?;
    let width = m.datatype.type_size() as usize;
    if offset.checked_add(width)? > record {
        return None;
    }
    let bytes = raw.chunks_exact(record).map(|r| &r[offset..offset + width]);
    Some(match &m.datatype {
        Datatype::FixedPoint { size, byte_order, layout } if matches!(size, 1 | 2 | 4 | 8) => {
            let big = *byte_order == DatatypeByteOrder::BigEndian;
            ColumnValues::I64(bytes.map(|b| integer(b, layout.signed, big)).collect())
        }
        Datatype::FloatingPoint { size: 4, byte_order, .. } => {
            let big = *byte_order == DatatypeByteOrder::BigEndian;
            ColumnValues::F64(bytes.map(|b| f64::from(f32::from_bits(integer(b, false, big) as u32))).collect())
        }
        Datatype::FloatingPoint { size: 8, byte_order, .. } => {
            let big = *byte_order == DatatypeByteOrder::BigEndian;
            ColumnValues::F64(bytes.map(|b| f64::from_bits(integer(b, false, big) as u64)).collect())
        }
        Datatype::String { padding, .. } => ColumnValues::Str(bytes.map(|b| Some(fixed_string(b, padding))).collect()),
        Datatype::Enumeration { members, .. } if is_bool(members) => {
            let true_value = &members.iter().find(|e| e.name == "TRUE")?.value;
            ColumnValues::Bool(bytes.map(|b| Some(b == true_value.as_slice())).collect())
        }
        _ => return None,
    })
}

/// h5py's boolean: an enum with exactly the members FALSE and TRUE.
fn is_bool(members: &[hdf5_pure::EnumMember]) -> bool {
    let mut names: Vec<&str> = members.iter().map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    names == ["FALSE", "TRUE"]
}

/// An integer of 1–8 bytes, sign-extended when `signed`.
fn integer(b: &[u8], signed: bool, big: bool) -> i64 {
    let mut buf = [0u8; 8];
    let n = b.len();
    if big {
        buf[8 - n..].copy_from_slice(b);
        buf.reverse();
    } else {
        buf[..n].copy_from_slice(b);
    }
    let v = u64::from_le_bytes(buf);
    if signed && n < 8 {
        let shift = 64 - 8 * n as u32;
        ((v << shift) as i64) >> shift
    } else {
        v as i64
    }
}

/// A fixed-length string: up to the first NUL (numpy `S` drops trailing NULs), or without
/// trailing spaces when space-padded; invalid UTF-8 is replaced.
fn fixed_string(b: &[u8], padding: &StringPadding) -> String {
    let text = match padding {
        StringPadding::SpacePad => b.trim_ascii_end(),
        _ => &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())],
    };
    String::from_utf8_lossy(text).into_owned()
}

/// A short name of an HDF5 type, for messages.
fn describe(dt: &Datatype) -> String {
    match dt {
        Datatype::VariableLength { is_string: true, .. } => {
            "variable-length string (write the column as fixed-length bytes, numpy `S`, or convert the file)"
                .to_string()
        }
        Datatype::VariableLength { .. } => "variable-length sequence".to_string(),
        Datatype::FixedPoint { size, .. } => format!("{size}-byte integer"),
        Datatype::FloatingPoint { size, .. } => format!("{size}-byte float"),
        // The variant name (Compound, Array, Reference, …) of any other class.
        other => format!("{other:?}").split([' ', '{', '(']).next().unwrap_or("unknown").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_sign_extended_in_either_byte_order() {
        assert_eq!(integer(&[0xff], true, false), -1);
        assert_eq!(integer(&[0xff], false, false), 255);
        assert_eq!(integer(&[0xfe, 0xff], true, false), -2);
        assert_eq!(integer(&[0xff, 0xfe], true, true), -2);
        assert_eq!(integer(&[1, 0, 0, 0], true, false), 1);
        assert_eq!(integer(&[0, 0, 0, 1], true, true), 1);
    }

    #[test]
    fn fixed_strings_end_at_the_padding() {
        assert_eq!(fixed_string(b"AAC-1\0\0\0", &StringPadding::NullPad), "AAC-1");
        assert_eq!(fixed_string(b"full", &StringPadding::NullTerminate), "full");
        assert_eq!(fixed_string(b"ab  ", &StringPadding::SpacePad), "ab");
    }
}
