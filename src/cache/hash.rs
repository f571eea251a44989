//! The blake3 names of the store: of bytes in memory and of a file read through a buffer.

use std::io::{ErrorKind, Read};
use std::path::Path;

/// blake3 of `bytes` as lowercase hex.
pub fn hash_bytes(bytes: &[u8]) -> String {
    if bytes.len() > 1 << 22 {
        let mut h = blake3::Hasher::new();
        h.update_rayon(bytes);
        h.finalize().to_hex().to_string()
    } else {
        blake3::hash(bytes).to_hex().to_string()
    }
}

/// blake3 of the file at `path` as lowercase hex, read 16 MiB at a time on a thread of its own
/// while the piece before is hashed on rayon's threads (reading and hashing overlap; two pieces
/// are in memory). Not through a mapping: a mapped 10 GB screen would count in the run's
/// resident memory as it is read, and a file cut short under a mapping kills the process.
///
/// # Errors
/// Those of opening and reading the file (`NotFound` for a missing one).
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    const PIECE: usize = 16 << 20;
    let mut file = std::fs::File::open(path)?;
    let (full_tx, full) = std::sync::mpsc::sync_channel::<std::io::Result<(Vec<u8>, usize)>>(1);
    let (empty, empty_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    empty.send(vec![0u8; PIECE]).ok();
    empty.send(vec![0u8; PIECE]).ok();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for mut buf in empty_rx {
                let filled = fill(&mut file, &mut buf);
                let last = !matches!(filled, Ok(n) if n == PIECE);
                if full_tx.send(filled.map(|n| (buf, n))).is_err() || last {
                    return;
                }
            }
        });
        let mut hasher = blake3::Hasher::new();
        for piece in &full {
            let (buf, n) = piece?;
            hasher.update_rayon(&buf[..n]);
            if n < PIECE {
                break;
            }
            // The reader may have stopped at the end of the file: then nobody takes the buffer.
            empty.send(buf).ok();
        }
        drop(empty);
        Ok(hasher.finalize().to_hex().to_string())
    })
}

/// Reads into `buf` until it is full or the file ends; the bytes read.
fn fill(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_read_in_pieces_hashes_as_its_bytes_do() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 5, 16 << 20, (16 << 20) + 5, (33 << 20) + 1] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &bytes).unwrap();
            let truth = blake3::hash(&bytes).to_hex().to_string();
            assert_eq!(hash_file(&path).unwrap(), truth, "{len} bytes");
            assert_eq!(hash_bytes(&bytes), truth, "{len} bytes in memory");
        }
        let missing = hash_file(&dir.path().join("none")).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
    }
}
