//! gcrl's stand-in for cubecl-llvm: the items cubecl-cuda 0.11.3 names, and no LLVM backend.
//!
//! cubecl-cuda always compiles both its kernel backends, CUDA C++ through NVRTC and LLVM through
//! pliron, and its `cpp` feature makes NVRTC the one a default compiler runs. gcrl turns that
//! feature on, so the LLVM backend is never selected and the real cubecl-llvm, whose build
//! downloads an LLVM bundle, need not be built. What cubecl-cuda reads from this crate:
//! - [`nvptx::ptx_version::PtxVersion`], the PTX version the LLVM backend would emit: none here;
//! - [`shared::lowered_features`], the narrowing of device properties to what LLVM lowers;
//! - [`PlironCompiler`] and the types of its options and output, whose `compile` answers every
//!   kernel with a [`CompilationError`] saying this build has no LLVM backend.

use core::convert::Infallible;

use cubecl_core::ir::nvidia::SmArch;
use cubecl_core::prelude::KernelDefinition;
use cubecl_environment::backtrace::BackTrace;
use cubecl_server::compiler::CompilationError;
use cubecl_server::kernel::BufferIOAttr;

/// The NVPTX side of the backend.
pub mod nvptx {
    /// PTX versions.
    pub mod ptx_version {
        use core::fmt;

        /// A PTX ISA version the LLVM backend would emit. No value exists: this crate emits no PTX.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum PtxVersion {}

        impl PtxVersion {
            /// The newest PTX version a driver loads, for the LLVM backend: `None`, as there is
            /// no LLVM backend here (the NVRTC backend does not read it).
            pub fn for_driver(_driver_version: i32) -> Option<Self> {
                None
            }
        }

        impl fmt::Display for PtxVersion {
            fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                match *self {}
            }
        }
    }
}

/// What the backend shares between its targets.
pub mod shared {
    /// Device properties narrowed to what the LLVM backend lowers.
    pub mod lowered_features {
        use cubecl_core::ir::DeviceProperties;

        /// The GPU targets whose properties can be narrowed.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum GpuTarget {
            /// NVIDIA GPUs.
            Nvptx,
        }

        /// Leaves the properties as they are: cubecl-cuda calls this only when its LLVM backend
        /// is selected, and then [`crate::PlironCompiler::compile`] refuses every kernel anyway.
        pub fn restrict_features(_props: &mut DeviceProperties, _target: GpuTarget) {}
    }
}

/// The targets the LLVM backend compiles for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LlvmTarget {
    /// NVIDIA GPUs, the only target cubecl-cuda configures.
    #[default]
    Nvptx,
}

/// The LLVM backend's compiler: it refuses every kernel with an error naming the fix.
#[derive(Clone, Debug, Default)]
pub struct PlironCompiler {
    /// The target it would compile for.
    pub target: LlvmTarget,
}

/// The options cubecl-cuda hands the LLVM backend.
#[derive(Clone, Debug, Default)]
pub struct PlironOptions {
    /// An AMD GPU architecture: never one on CUDA, and no AMD target here.
    pub arch: Option<Infallible>,
    /// The NVIDIA device architecture.
    pub sm_arch: Option<SmArch>,
    /// The PTX version to emit.
    pub ptx_version: Option<nvptx::ptx_version::PtxVersion>,
    /// Whether scalars travel in the kernel parameter block.
    pub grid_constants: bool,
}

/// A compiled PTX module, as the LLVM backend would hand it back.
#[derive(Clone, Debug)]
pub struct NvptxModule {
    /// NUL-terminated PTX assembly.
    pub ptx: Vec<core::ffi::c_char>,
    /// The IR, for logs.
    pub ir: String,
    /// Shared memory a launch reserves, in bytes.
    pub shared_memory_size: usize,
    /// Buffer access modes in binding order.
    pub io: Vec<BufferIOAttr>,
}

/// What the LLVM backend produces.
#[derive(Clone, Debug)]
pub enum PlironArtifact {
    /// PTX for an NVIDIA GPU.
    NvptxCode(NvptxModule),
}

impl PlironCompiler {
    /// Refuses the kernel: this build carries no LLVM backend.
    pub fn compile(
        &mut self,
        _kernel: KernelDefinition,
        _options: &PlironOptions,
    ) -> Result<PlironArtifact, CompilationError> {
        Err(CompilationError::Generic {
            reason: "this build has no LLVM kernel backend (gcrl's vendor/cubecl-llvm-stub stands \
                     in for cubecl-llvm); build cubecl-cuda with its `cpp` feature, as gcrl's \
                     `cuda` feature does, so kernels compile through NVRTC"
                .to_string(),
            backtrace: BackTrace::capture(),
        })
    }

    /// The language tag of the compiled artifacts' cache entries.
    pub fn lang_tag(&self) -> &'static str {
        "llvm"
    }
}
