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

/// blake3 of the file at `path` as lowercase hex, read 16 MiB at a time (each piece hashed on
/// rayon's threads). Not through a mapping: a mapped 10 GB screen would count in the run's
/// resident memory as it is read.
///
/// # Errors
/// Those of opening and reading the file (`NotFound` for a missing one).
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 16 << 20];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            return Ok(hasher.finalize().to_hex().to_string());
        }
        hasher.update_rayon(&buf[..filled]);
    }
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
