//! Between ndarray and burn: tensors from matrices and back, the training device, and linear
//! layers initialised from our own seeded stream.

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array2, ArrayView2};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::ModelError;

/// The device a training runs on: burn-cuda GPU `gpu` when the `cuda` feature is built and a
/// GPU was assigned, else the `flex` CPU backend; with autodiff.
///
/// `gpu` is an ordinal among the GPUs this process sees (CUDA numbers the devices of
/// `CUDA_VISIBLE_DEVICES` from 0, and so does the scheduler's `--gpus N`).
pub fn train_device(gpu: Option<usize>) -> Result<Device, ModelError> {
    match gpu {
        None => Ok(Device::flex().autodiff()),
        #[cfg(feature = "cuda")]
        Some(index) => Ok(cuda_device(index)?.autodiff()),
        #[cfg(not(feature = "cuda"))]
        Some(index) => Err(ModelError::Gpu {
            index,
            reason:
                "this gcrl was built without the `cuda` feature; rebuild with `--features cuda` or run without `--gpus`"
                    .into(),
        }),
    }
}

/// burn-cuda's device for GPU `index`, once what it needs is known to be there: the CUDA driver
/// seeing that device, and NVRTC with the CUDA headers, which compile the kernels at run time.
/// burn would panic on first use instead, deep in a training.
#[cfg(feature = "cuda")]
fn cuda_device(index: usize) -> Result<Device, ModelError> {
    use cudarc::driver::{result, sys};
    let unusable = |reason: String| ModelError::Gpu { index, reason };
    // SAFETY: only tries to open the driver library under its usual names.
    if !unsafe { sys::is_culib_present() } {
        return Err(unusable(
            "no CUDA driver (libcuda) on this machine; run where `nvidia-smi` works, or without `--gpus` \
             and `gpu: true`"
                .into(),
        ));
    }
    let count = result::init().and_then(|()| result::device::get_count()).map_err(|e| {
        unusable(format!(
            "the CUDA driver found no usable device ({e}); check `nvidia-smi` and CUDA_VISIBLE_DEVICES, or run \
             without `--gpus` and `gpu: true`"
        ))
    })?;
    if index >= count as usize {
        return Err(unusable(format!(
            "the CUDA driver sees {count} device(s) here (CUDA_VISIBLE_DEVICES={}); give `--gpus` at most {count}",
            std::env::var("CUDA_VISIBLE_DEVICES").unwrap_or_else(|_| "unset".into())
        )));
    }
    // SAFETY: as above, for NVRTC's library.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(unusable(
            "NVRTC (libnvrtc), which compiles the GPU kernels, is not on the library path; add the CUDA \
             toolkit's lib64 to LD_LIBRARY_PATH"
                .into(),
        ));
    }
    let headers = cubecl_cuda::install::cuda_path().map(|p| p.join("include"));
    if !headers.as_ref().is_some_and(|h| h.join("cuda.h").exists()) {
        return Err(unusable(format!(
            "the kernels compile against the CUDA toolkit's headers, and there are none in {}; set CUDA_PATH \
             to the toolkit (the folder holding include/cuda.h)",
            headers.map_or_else(|| "CUDA_PATH, /usr/local/cuda or /opt/cuda".into(), |h| h.display().to_string())
        )));
    }
    Ok(Device::cuda(index))
}

/// Makes glibc's allocator keep freed large blocks for reuse instead of unmapping them.
///
/// By default every allocation above 128 KiB is a fresh `mmap`, so each tensor buffer of a
/// training step (burn allocates one per operation) is zero-filled page by page through page
/// faults and unmapped again: perf showed ~12 % of a VAE step in page faults, and raising the
/// threshold made the discrepancy-VAE epoch ≈ 1.45× faster (benches/vae.rs, 2026-12-02). Blocks
/// above 1 GiB are still mapped. Process-wide; call once at start (the `gcrl` binary does).
pub fn reuse_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation thresholds; no memory is touched.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

/// A `[rows, cols]` float tensor on `device` holding `m`.
pub fn from_matrix(m: ArrayView2<f32>, device: &Device) -> Tensor<2> {
    let (rows, cols) = m.dim();
    let data: Vec<f32> = m.iter().copied().collect();
    Tensor::from_data(TensorData::new(data, [rows, cols]), device)
}

/// The values of a 2-d tensor as a matrix (row-major).
pub fn to_matrix(t: Tensor<2>) -> Result<Array2<f32>, ModelError> {
    let [rows, cols] = t.dims();
    let values: Vec<f32> = t
        .into_data()
        .convert::<f32>()
        .try_into_vec()
        .map_err(|e| ModelError::Invalid(format!("reading a tensor back: {e:?}")))?;
    Array2::from_shape_vec((rows, cols), values).map_err(|e| ModelError::Invalid(e.to_string()))
}

/// A `fan_in → fan_out` linear layer with PyTorch's default initialisation, weights and bias
/// drawn from U(−1/√fan_in, 1/√fan_in) in our seeded stream (row-major `[fan_in, fan_out]`).
pub fn seeded_linear(rng: &mut ChaCha8Rng, fan_in: usize, fan_out: usize, device: &Device) -> Linear {
    let bound = 1.0 / (fan_in as f32).sqrt();
    let mut draw = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..bound)).collect() };
    let weight = Tensor::from_data(TensorData::new(draw(fan_in * fan_out), [fan_in, fan_out]), device);
    let bias = Tensor::from_data(TensorData::new(draw(fan_out), [fan_out]), device);
    Linear { weight: Param::from_tensor(weight), bias: Some(Param::from_tensor(bias)) }
}
