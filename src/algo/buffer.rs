//! Big zeroed buffers for matrix arrays, backed by transparent huge pages where the kernel
//! offers them (as numpy asks for its arrays): with 4 KiB pages, faulting in the buffers of a
//! 400 MB matrix was a third of reading it.

/// `n` zeros, calloc'd (pages are touched only when written), asking for huge pages.
pub fn zeroed<T: bytemuck::Pod>(n: usize) -> Vec<T> {
    let v = vec![T::zeroed(); n];
    advise_huge_pages(bytemuck::cast_slice(&v));
    v
}

/// Asks the kernel to back the whole 2 MiB pages inside `buf` with huge pages (advisory; where
/// transparent huge pages are off or `madvise` fails, nothing changes).
fn advise_huge_pages(buf: &[u8]) {
    const HUGE: usize = 2 << 20;
    let start = (buf.as_ptr() as usize).next_multiple_of(HUGE);
    let end = (buf.as_ptr() as usize + buf.len()) / HUGE * HUGE;
    if end > start {
        #[cfg(target_os = "linux")]
        // SAFETY: the range lies inside `buf`'s allocation; MADV_HUGEPAGE changes no contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_huge_buffer_is_zeros_of_its_length() {
        let v: Vec<u32> = super::zeroed(3 << 20);
        assert_eq!(v.len(), 3 << 20);
        assert!(v.iter().all(|&x| x == 0));
        assert!(super::zeroed::<f32>(0).is_empty());
    }
}
