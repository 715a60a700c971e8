//! The owner of one Cranelift module, in memory (the JIT) or an object file (`specc aot`): ISA
//! selection, compilation with panics turned into errors, and, for the JIT, function handles
//! that may cross threads but cannot outlive the code they point to. Emitters see one type,
//! [`CodeModule`], whichever the module is.

use std::collections::HashSet;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::ir::{GlobalValue, GlobalValueData};
use cranelift_codegen::ir::{Signature, Type, UserFuncName};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{
    default_libcall_names, DataDescription, DataId, FuncId, Linkage, Module, ModuleError,
};
use cranelift_object::{ObjectBuilder, ObjectModule};

/// Which instruction set the JIT targets.
///
/// `Baseline` exists so the test suite can exercise the fallback lowering (SSE2 only, no FMA)
/// on a machine that has AVX/FMA: kernels must be correct on both, and must not silently
/// degrade into per-lane libcalls on the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IsaChoice {
    /// The host CPU with every feature `cranelift_native` detects (AVX, FMA, AVX-512, ...).
    Native,
    /// The host architecture with no inferred features: x86-64 baseline (SSE2), no AVX, no FMA.
    Baseline,
    /// `Native`, and the `transform` stage of f32 programs on the precompiled AVX2+FMA FFT
    /// kernels ([`crate::wide`], 8 frames per block) where the kernel plan marks it `wide` and
    /// the CPU has AVX2 and FMA (else exactly `Native`).
    Avx2,
}

impl IsaChoice {
    /// The process's default: [`IsaChoice::Avx2`] when [`crate::wide::selected`] chose the
    /// wide kernels (the CPU has AVX2 and FMA and `SPECC_ISA` is unset or `avx2`), else
    /// [`IsaChoice::Native`] (`SPECC_ISA=sse`, or a CPU without them).
    pub fn process_default() -> IsaChoice {
        match crate::wide::selected() {
            crate::wide::Isa::Avx2 => IsaChoice::Avx2,
            crate::wide::Isa::Sse => IsaChoice::Native,
        }
    }
}

/// Why a JIT module could not be built or a function could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum JitError {
    /// The host architecture is not supported by Cranelift.
    #[error("host ISA not supported by Cranelift: {0}")]
    UnsupportedHost(&'static str),
    /// A Cranelift setting was rejected (a bug in this module, not in the input).
    #[error("Cranelift rejected a setting: {0}")]
    Setting(#[from] settings::SetError),
    /// Building the target ISA from the flags failed.
    #[error("could not build the target ISA: {0}")]
    Isa(String),
    /// Cranelift returned an error while declaring, compiling or linking (includes verifier
    /// errors and unsupported types/instructions).
    #[error("Cranelift failed on `{name}`: {source}")]
    Module {
        /// The function (or "<finalize>") being processed.
        name: String,
        /// Cranelift's error.
        #[source]
        source: Box<ModuleError>,
    },
    /// Cranelift (or the IR-building closure) panicked. Cranelift 0.135 panics instead of
    /// returning `Err` on some unsupported IR (e.g. `iadd.i32x2` on x64).
    #[error("Cranelift panicked on `{name}`: {message}")]
    Panic {
        /// The function (or "<finalize>") being processed.
        name: String,
        /// The panic payload, if it was a string.
        message: String,
    },
    /// An earlier panic may have left the module inconsistent; it accepts no more work.
    #[error("the JIT module is unusable after an earlier Cranelift panic")]
    Poisoned,
    /// The function was defined but `finalize` has not run since, so it has no code yet.
    #[error("function is not finalized yet; call CodeModule::finalize first")]
    NotFinalized,
    /// A typed function id was redeemed against a module other than the one that compiled it.
    #[error("function id belongs to a different JIT module")]
    ForeignFunction,
    /// The target of an object file was not understood or is not supported.
    #[error("{0}")]
    Target(String),
    /// Asked an object module for machine code to call, or a JIT module for an object file.
    #[error("{0}")]
    WrongBackend(&'static str),
}

static NEXT_UID: AtomicU64 = AtomicU64::new(0);

/// What IR emitters need to know about the target while a function body is being built
/// (the builder borrows the module's context, so emitters cannot ask the module itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetInfo {
    /// Emit `fma` only when this is true; otherwise Cranelift lowers it to per-lane libcalls.
    pub has_fma: bool,
    /// The integer type of pointers and `usize`.
    pub pointer_type: Type,
}

/// The CPU an object file is compiled for (`specc aot --cpu`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cpu {
    /// The architecture's baseline: x86-64 with SSE2 only (no AVX, no FMA); every aarch64 CPU
    /// (NEON and FMA are part of the architecture).
    Baseline,
    /// The CPU of the machine running `specc aot` (the target must be the host).
    Native,
    /// The x86-64-v3 level as Cranelift knows it: SSE3 to SSE4.2, POPCNT, AVX, AVX2, FMA,
    /// BMI1/2, LZCNT (Haswell and later, every Zen).
    X86_64V3,
}

impl std::str::FromStr for Cpu {
    type Err = String;
    fn from_str(s: &str) -> Result<Cpu, String> {
        match s {
            "baseline" => Ok(Cpu::Baseline),
            "native" => Ok(Cpu::Native),
            "x86-64-v3" => Ok(Cpu::X86_64V3),
            other => Err(format!("unknown cpu `{other}`; cpus: baseline, native, x86-64-v3")),
        }
    }
}

/// Where an object file's code will run: a target triple (`x86_64-unknown-linux-gnu`,
/// `aarch64-apple-ios`, ...) and a CPU level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectTarget {
    /// The target triple; `None` is the host's.
    pub triple: Option<String>,
    /// The CPU level.
    pub cpu: Cpu,
}

/// The x86-64-v3 features Cranelift knows (`cranelift_codegen::isa::x64::settings`).
const X86_64_V3: [&str; 12] = [
    "has_sse3",
    "has_ssse3",
    "has_cmpxchg16b",
    "has_sse41",
    "has_sse42",
    "has_popcnt",
    "has_avx",
    "has_avx2",
    "has_fma",
    "has_bmi1",
    "has_bmi2",
    "has_lzcnt",
];

/// The Cranelift module a [`CodeModule`] writes into.
enum Backend {
    /// Executable memory of this process (boxed, as both modules are large).
    Jit(Box<JITModule>),
    /// An object file (`specc aot`).
    Object(Box<ObjectModule>),
}

/// Owns a Cranelift module: a `JITModule` and the executable memory of everything compiled into
/// it, or an `ObjectModule` whose bytes [`CodeModule::finish_object`] returns.
///
/// JIT memory is freed on drop. `CodeModule` is `!Sync` (Cranelift's module uses interior
/// mutability); only [`JitFn`] handles, which borrow the module, cross threads.
pub struct CodeModule {
    /// `Some` until `Drop` (or `finish_object`) takes it.
    module: Option<Backend>,
    ctx: Context,
    fctx: FunctionBuilderContext,
    target: TargetInfo,
    isa_choice: IsaChoice,
    /// Defined but not yet finalized.
    pending: HashSet<FuncId>,
    poisoned: bool,
    /// Process-unique id, so typed function ids cannot be redeemed against another module.
    uid: u64,
    capture_vcode: bool,
    last_vcode: Option<String>,
    /// Code size and name of each function defined since the last `finalize`, kept only when
    /// `SPECC_PERF_MAP` is set (see [`CodeModule::finalize`]).
    perf_names: Vec<(FuncId, usize, String)>,
    /// Prepended to every name declared (an object holds several programs; its symbols carry
    /// the spec's name).
    prefix: String,
}

impl CodeModule {
    /// Builds a JIT module for `isa` (see [`flags`]; not position-independent).
    pub fn new(isa: IsaChoice) -> Result<Self, JitError> {
        let flags = flags(false)?;
        let isa_builder = match isa {
            IsaChoice::Native | IsaChoice::Avx2 => cranelift_native::builder(),
            IsaChoice::Baseline => cranelift_native::builder_with_options(false),
        }
        .map_err(JitError::UnsupportedHost)?;
        let owned_isa =
            isa_builder.finish(settings::Flags::new(flags)).map_err(|e| JitError::Isa(e.to_string()))?;
        let module = JITModule::new(JITBuilder::with_isa(owned_isa, default_libcall_names()));
        Ok(Self::with_backend(Backend::Jit(Box::new(module)), isa))
    }

    /// Builds a module that writes an object file for `target`, position-independent (it links
    /// into executables, PIE or not, and shared libraries), named `name` in the object.
    pub fn object(target: &ObjectTarget, name: &str) -> Result<Self, JitError> {
        let flags = flags(true)?;
        let host_triple = cranelift_native::builder().map(|b| b.triple().to_string()).ok();
        let host = target.triple.is_none() || target.triple == host_triple;
        let mut isa_builder = match (target.cpu, &target.triple) {
            (Cpu::Native, _) if !host => {
                return Err(JitError::Target(String::from(
                    "--cpu native describes this machine's CPU, so it needs the host target (leave out --target)",
                )))
            }
            (Cpu::Native, _) => cranelift_native::builder().map_err(JitError::UnsupportedHost)?,
            (_, None) => cranelift_native::builder_with_options(false).map_err(JitError::UnsupportedHost)?,
            (_, Some(t)) => cranelift_codegen::isa::lookup_by_name(t).map_err(|e| {
                JitError::Target(format!(
                    "target `{t}`: {e} (targets: x86_64-unknown-linux-gnu, aarch64-unknown-linux-gnu, aarch64-apple-darwin, aarch64-apple-ios, ...)"
                ))
            })?,
        };
        let arch = isa_builder.triple().architecture.to_string();
        if target.cpu == Cpu::X86_64V3 {
            if arch != "x86_64" {
                return Err(JitError::Target(format!(
                    "--cpu x86-64-v3 is an x86-64 level; the target is {arch}"
                )));
            }
            for f in X86_64_V3 {
                isa_builder.enable(f)?;
            }
        }
        let owned_isa =
            isa_builder.finish(settings::Flags::new(flags)).map_err(|e| JitError::Isa(e.to_string()))?;
        if owned_isa.pointer_bytes() != 8
            || owned_isa.endianness() != cranelift_codegen::ir::Endianness::Little
        {
            return Err(JitError::Target(format!(
                "{arch}: objects are written for 64-bit little-endian targets only"
            )));
        }
        let builder = ObjectBuilder::new(owned_isa, name.as_bytes().to_vec(), default_libcall_names())
            .map_err(|e| JitError::Target(e.to_string()))?;
        let choice = if target.cpu == Cpu::Baseline { IsaChoice::Baseline } else { IsaChoice::Native };
        Ok(Self::with_backend(Backend::Object(Box::new(ObjectModule::new(builder))), choice))
    }

    fn with_backend(backend: Backend, isa: IsaChoice) -> Self {
        let m: &dyn Module = match &backend {
            Backend::Jit(m) => &**m,
            Backend::Object(m) => &**m,
        };
        let owned_isa = m.isa();
        let target =
            TargetInfo { has_fma: owned_isa.has_native_fma(), pointer_type: owned_isa.pointer_type() };
        let ctx = m.make_context();
        Self {
            module: Some(backend),
            ctx,
            fctx: FunctionBuilderContext::new(),
            target,
            isa_choice: isa,
            pending: HashSet::new(),
            poisoned: false,
            uid: NEXT_UID.fetch_add(1, Ordering::Relaxed),
            capture_vcode: false,
            last_vcode: None,
            perf_names: Vec::new(),
            prefix: String::new(),
        }
    }

    /// Prepends `prefix` to the names declared from now on.
    pub fn set_prefix(&mut self, prefix: &str) {
        self.prefix = prefix.to_string();
    }

    /// Whether this module writes an object file.
    pub fn is_object(&self) -> bool {
        matches!(self.module, Some(Backend::Object(_)))
    }

    /// The target's name of the module's architecture and the triple (`x86_64-...`).
    pub fn triple(&self) -> String {
        self.module().isa().triple().to_string()
    }

    /// True only when the ISA has AVX and FMA, i.e. when `fma` lowers to `vfmadd*`. Without
    /// it Cranelift lowers `fma` to one `fmaf` libcall per lane, so emitters use mul+add.
    pub fn has_fma(&self) -> bool {
        self.target.has_fma
    }

    /// Target facts for IR emitters.
    pub fn target(&self) -> TargetInfo {
        self.target
    }

    /// The ISA this module was built for.
    pub fn isa_choice(&self) -> IsaChoice {
        self.isa_choice
    }

    /// A signature with the host's C calling convention (SystemV on x86-64 Linux), so compiled
    /// functions can be called as `extern "C" fn`.
    pub fn make_signature(&self) -> Signature {
        self.module().make_signature()
    }

    /// A process-unique id of this module; typed kernel ids record it so that redeeming them
    /// against a different module is an error instead of calling the wrong code.
    pub fn uid(&self) -> u64 {
        self.uid
    }

    /// Keep the register-allocated machine code text (VCode) of the next functions defined,
    /// so tests can check instruction selection (e.g. that no `call` to `fmaf` appears).
    pub fn set_capture_vcode(&mut self, on: bool) {
        self.capture_vcode = on;
    }

    /// The VCode text of the last function defined while capture was on.
    pub fn last_vcode(&self) -> Option<&str> {
        self.last_vcode.as_deref()
    }

    fn module(&self) -> &dyn Module {
        match self.module.as_ref().expect("the module is present until drop") {
            Backend::Jit(m) => &**m,
            Backend::Object(m) => &**m,
        }
    }

    fn module_mut(&mut self) -> &mut dyn Module {
        match self.module.as_mut().expect("the module is present until drop") {
            Backend::Jit(m) => &mut **m,
            Backend::Object(m) => &mut **m,
        }
    }

    fn jit(&self) -> Option<&JITModule> {
        match self.module.as_ref() {
            Some(Backend::Jit(m)) => Some(m),
            _ => None,
        }
    }

    /// Declares and compiles one function whose body `build` emits. The builder is positioned
    /// nowhere: `build` creates its blocks, must terminate every one and need not seal them.
    ///
    /// A panic inside Cranelift or `build` is caught and returned as [`JitError::Panic`];
    /// the module is poisoned afterwards because Cranelift's state may be half-updated.
    pub fn define<F>(&mut self, name: &str, sig: Signature, build: F) -> Result<FuncId, JitError>
    where
        F: FnOnce(&mut FunctionBuilder<'_>, TargetInfo),
    {
        self.define_with_data(name, sig, &[], |b, t, _| build(b, t))
    }

    /// Adds an immutable data object (a window, twiddles, a filterbank) to the module: it lives
    /// in the module's memory, next to the code, and is freed with it. `align` is in bytes.
    pub fn define_data(&mut self, name: &str, bytes: Vec<u8>, align: u64) -> Result<DataId, JitError> {
        let id = self.declare_data(name)?;
        self.define_declared_data(name, id, bytes, align)?;
        Ok(id)
    }

    /// Declares a data object whose contents are given later with
    /// [`define_declared_data`](Self::define_declared_data) (before [`finalize`](Self::finalize)),
    /// for tables that functions referencing them fill while they are built (a constant pool).
    pub fn declare_data(&mut self, name: &str) -> Result<DataId, JitError> {
        let full = format!("{}{name}", self.prefix);
        let mut poisoned = self.poisoned;
        let module = self.module_mut();
        let r = guarded(&mut poisoned, name, || {
            module.declare_data(&full, Linkage::Local, false, false).map_err(Box::new)
        });
        self.poisoned = poisoned;
        r
    }

    /// Defines an object module's read-only data object `name` (prefixed), exported when
    /// `export`: `bytes`, with the address of function `f` written at each `(offset, f)` of
    /// `funcs` and the address of data object `d` at each `(offset, d)` of `datas` (the linker
    /// resolves them).
    pub fn define_linked_data(
        &mut self,
        name: &str,
        bytes: Vec<u8>,
        align: u64,
        funcs: &[(usize, FuncId)],
        datas: &[(usize, DataId)],
        export: bool,
    ) -> Result<DataId, JitError> {
        if !self.is_object() {
            return Err(JitError::WrongBackend("linked data is for object files"));
        }
        let full = format!("{}{name}", self.prefix);
        let linkage = if export { Linkage::Export } else { Linkage::Local };
        let mut poisoned = self.poisoned;
        let module = self.module_mut();
        let r = guarded(&mut poisoned, name, || {
            let id = module.declare_data(&full, linkage, false, false).map_err(Box::new)?;
            let mut desc = DataDescription::new();
            desc.define(bytes.into_boxed_slice());
            desc.set_align(align.max(1));
            for &(offset, f) in funcs {
                let r = module.declare_func_in_data(f, &mut desc);
                desc.write_function_addr(offset as u32, r);
            }
            for &(offset, d) in datas {
                let gv = module.declare_data_in_data(d, &mut desc);
                desc.write_data_addr(offset as u32, gv, 0);
            }
            module.define_data(id, &desc).map_err(Box::new)?;
            Ok(id)
        });
        self.poisoned = poisoned;
        r
    }

    /// The object file's bytes (an object module only; it is consumed).
    pub fn finish_object(mut self) -> Result<Vec<u8>, JitError> {
        if self.poisoned {
            return Err(JitError::Poisoned);
        }
        match self.module.take() {
            Some(Backend::Object(m)) => {
                let product = catch_unwind(AssertUnwindSafe(|| m.finish())).map_err(|p| JitError::Panic {
                    name: String::from("<object>"),
                    message: panic_message(&*p),
                })?;
                product.emit().map_err(|e| JitError::Target(format!("could not write the object file: {e}")))
            }
            other => {
                self.module = other;
                Err(JitError::WrongBackend("a JIT module has no object file"))
            }
        }
    }

    /// Gives the contents of a data object from [`declare_data`](Self::declare_data).
    pub fn define_declared_data(
        &mut self,
        name: &str,
        id: DataId,
        bytes: Vec<u8>,
        align: u64,
    ) -> Result<(), JitError> {
        let mut poisoned = self.poisoned;
        let module = self.module_mut();
        let r = guarded(&mut poisoned, name, || {
            let mut desc = DataDescription::new();
            // An empty object still needs an address; one zero byte gives it one.
            desc.define(if bytes.is_empty() {
                vec![0u8].into_boxed_slice()
            } else {
                bytes.into_boxed_slice()
            });
            desc.set_align(align.max(1));
            module.define_data(id, &desc).map_err(Box::new)
        });
        self.poisoned = poisoned;
        r
    }

    /// [`define`](Self::define) for a function that reads data objects: `build` gets one
    /// `GlobalValue` per id in `data` (turn it into an address with `symbol_value`).
    pub fn define_with_data<F>(
        &mut self,
        name: &str,
        sig: Signature,
        data: &[DataId],
        build: F,
    ) -> Result<FuncId, JitError>
    where
        F: FnOnce(&mut FunctionBuilder<'_>, TargetInfo, &[GlobalValue]),
    {
        let target = self.target;
        let (is_jit, linkage) = match self.module {
            Some(Backend::Object(_)) => (false, Linkage::Export),
            _ => (true, Linkage::Local),
        };
        let full = format!("{}{name}", self.prefix);
        let module: &mut dyn Module = match self.module.as_mut().expect("the module is present until drop") {
            Backend::Jit(m) => &mut **m,
            Backend::Object(m) => &mut **m,
        };
        let ctx = &mut self.ctx;
        let fctx = &mut self.fctx;
        let capture = self.capture_vcode;
        let vcode = &mut self.last_vcode;
        let perf_names = &mut self.perf_names;
        let id = guarded(&mut self.poisoned, name, || {
            let id = module.declare_function(&full, linkage, &sig).map_err(Box::new)?;
            module.clear_context(ctx);
            ctx.func.signature = sig;
            ctx.func.name = UserFuncName::user(0, id.as_u32());
            // In the JIT, data objects are addressed absolutely (`movabs`): Cranelift's JIT maps
            // data and code separately, and a PC-relative 32-bit reference fails to link (a
            // panic in cranelift-jit) when they land more than 2 GiB apart, as under
            // AddressSanitizer. An object keeps them PC-relative: its sections link together.
            let gvs: Vec<GlobalValue> = data
                .iter()
                .map(|d| {
                    let gv = module.declare_data_in_func(*d, &mut ctx.func);
                    if let GlobalValueData::Symbol { colocated, .. } = &mut ctx.func.global_values[gv] {
                        *colocated &= !is_jit;
                    }
                    gv
                })
                .collect();
            {
                let mut b = FunctionBuilder::new(&mut ctx.func, fctx);
                build(&mut b, target, &gvs);
                b.seal_all_blocks();
                b.finalize(module.target_config());
            }
            ctx.set_disasm(capture);
            let defined = module.define_function(id, ctx);
            // Only absolute relocations link wherever the JIT maps code and data; anything
            // else would panic inside `finalize` (see the data addressing above).
            if let Some(c) = ctx.compiled_code().filter(|_| is_jit) {
                if let Some(r) = c.buffer.relocs().iter().find(|r| r.kind != Reloc::Abs8) {
                    panic!("unexpected relocation {:?} in {name}", r.kind);
                }
            }
            if capture {
                *vcode = ctx.compiled_code().and_then(|c| c.vcode.clone());
            }
            if perf_map_enabled() {
                if let Some(c) = ctx.compiled_code() {
                    perf_names.push((id, c.buffer.data().len(), name.to_string()));
                }
            }
            module.clear_context(ctx);
            defined.map(|()| id).map_err(Box::new)
        })?;
        self.pending.insert(id);
        Ok(id)
    }

    /// Links everything defined so far and makes it executable.
    pub fn finalize(&mut self) -> Result<(), JitError> {
        let Some(Backend::Jit(module)) = self.module.as_mut() else {
            return Err(JitError::WrongBackend("an object module is finished with finish_object"));
        };
        guarded(&mut self.poisoned, "<finalize>", || module.finalize_definitions().map_err(Box::new))?;
        self.pending.clear();
        self.write_perf_map();
        Ok(())
    }

    /// A handle to finalized code. It borrows the module, so the code cannot be freed while the
    /// handle (or a thread using it, e.g. under `std::thread::scope`) is alive.
    pub fn function(&self, id: FuncId) -> Result<JitFn<'_>, JitError> {
        if self.poisoned {
            return Err(JitError::Poisoned);
        }
        if self.pending.contains(&id) {
            return Err(JitError::NotFinalized);
        }
        let jit = self.jit().ok_or(JitError::WrongBackend("an object module has no code to call"))?;
        Ok(JitFn { ptr: jit.get_finalized_function(id), _module: PhantomData })
    }
}

/// The shared flags: `opt_level=speed`, position-independent code for objects only, and the IR
/// verifier in debug builds (it costs compile time, and our IR is generated, so release builds
/// trust it).
fn flags(pic: bool) -> Result<settings::Builder, JitError> {
    let mut flags = settings::builder();
    flags.set("opt_level", "speed")?;
    flags.set("is_pic", if pic { "true" } else { "false" })?;
    flags.set("use_colocated_libcalls", "false")?;
    flags.set("enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" })?;
    Ok(flags)
}

/// Runs one Cranelift step for `name` unless the module is `poisoned`: its error becomes
/// [`JitError::Module`], and a panic becomes [`JitError::Panic`] and poisons the module
/// (Cranelift's state may be half-updated).
fn guarded<T>(
    poisoned: &mut bool,
    name: &str,
    step: impl FnOnce() -> Result<T, Box<ModuleError>>,
) -> Result<T, JitError> {
    if *poisoned {
        return Err(JitError::Poisoned);
    }
    match catch_unwind(AssertUnwindSafe(step)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(JitError::Module { name: name.to_string(), source: e }),
        Err(payload) => {
            *poisoned = true;
            Err(JitError::Panic { name: name.to_string(), message: panic_message(&*payload) })
        }
    }
}

/// True when `SPECC_PERF_MAP` is set to anything but `0`: profiling runs then get JIT symbols.
fn perf_map_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("SPECC_PERF_MAP").is_some_and(|v| v != "0"))
}

impl CodeModule {
    /// Appends the functions finalized last to `/tmp/perf-<pid>.map`, the file `perf report`
    /// reads to name addresses in JIT code. Failing to write it only costs the names.
    fn write_perf_map(&mut self) {
        if self.perf_names.is_empty() {
            return;
        }
        use std::io::Write;
        let names = std::mem::take(&mut self.perf_names);
        let path = format!("/tmp/perf-{}.map", std::process::id());
        let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) else {
            return;
        };
        let Some(jit) = self.jit() else { return };
        let mut text = String::new();
        for (id, size, name) in names {
            let ptr = jit.get_finalized_function(id);
            text.push_str(&format!("{:x} {:x} specc_jit::{}\n", ptr as usize, size, name));
        }
        let _ = file.write_all(text.as_bytes());
    }
}

impl Drop for CodeModule {
    fn drop(&mut self) {
        if let Some(Backend::Jit(module)) = self.module.take() {
            // SAFETY: every pointer handed out is wrapped in a `JitFn<'m>` that borrows `self`,
            // so none can exist (on any thread) once `drop` runs: no compiled function is
            // executing and none can be called afterwards, which is `free_memory`'s contract.
            unsafe { module.free_memory() };
        }
    }
}

/// The entry point of a finalized function, valid for as long as the module borrow `'m`.
///
/// It is `Copy`, `Send` and `Sync` so a kernel can run on several threads at once (e.g. with
/// `std::thread::scope`); the lifetime, not the type, ties it to the code memory. Calling it
/// needs a signature-checked wrapper (see `math::MapF32`), which is where the `unsafe` lives.
#[derive(Clone, Copy, Debug)]
pub struct JitFn<'m> {
    ptr: *const u8,
    /// Lifetime only: `&'m CodeModule` would make the handle `!Send` since the module is `!Sync`.
    _module: PhantomData<fn() -> &'m ()>,
}

// SAFETY: the pointer is to immutable, finalized machine code that stays mapped while `'m`
// lives (the module is borrowed for `'m` and only frees the code on drop). Executing code has
// no thread affinity, and the compiled kernels only touch memory passed in their arguments.
unsafe impl Send for JitFn<'_> {}
// SAFETY: as for `Send`; sharing the address gives no access beyond calling the code.
unsafe impl Sync for JitFn<'_> {}

impl JitFn<'_> {
    /// The raw code address (for the typed wrappers that call it).
    pub fn as_ptr(self) -> *const u8 {
        self.ptr
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_codegen::ir::{types, AbiParam, InstBuilder};

    fn add_i32(jit: &mut CodeModule, name: &str, ty: Type) -> Result<FuncId, JitError> {
        let mut sig = jit.make_signature();
        sig.params.push(AbiParam::new(ty));
        sig.params.push(AbiParam::new(ty));
        sig.returns.push(AbiParam::new(ty));
        jit.define(name, sig, |b, _| {
            let blk = b.create_block();
            b.append_block_params_for_function_params(blk);
            b.switch_to_block(blk);
            let (x, y) = (b.block_params(blk)[0], b.block_params(blk)[1]);
            let s = b.ins().iadd(x, y);
            b.ins().return_(&[s]);
        })
    }

    #[test]
    fn codegen_jit_compiles_and_calls() {
        for isa in [IsaChoice::Native, IsaChoice::Baseline] {
            let mut jit = CodeModule::new(isa).unwrap();
            if isa == IsaChoice::Baseline {
                assert!(!jit.has_fma());
            }
            let id = add_i32(&mut jit, "add", types::I32).unwrap();
            assert!(matches!(jit.function(id), Err(JitError::NotFinalized)));
            jit.finalize().unwrap();
            let f = jit.function(id).unwrap();
            // SAFETY: `add` was compiled with the C signature (i32, i32) -> i32 and `jit` is alive.
            let add: extern "C" fn(i32, i32) -> i32 = unsafe { std::mem::transmute(f.as_ptr()) };
            assert_eq!(add(40, 2), 42);
            // The handle can be used from other threads while the module is borrowed.
            std::thread::scope(|s| {
                s.spawn(move || {
                    // SAFETY: as above; the scope ends before `jit` can be dropped.
                    let add: extern "C" fn(i32, i32) -> i32 = unsafe { std::mem::transmute(f.as_ptr()) };
                    assert_eq!(add(1, 2), 3);
                });
            });
        }
    }

    #[test]
    fn codegen_jit_panic_becomes_error() {
        let mut jit = CodeModule::new(IsaChoice::Native).unwrap();
        // `iadd.i32x2` panics inside the x64 backend ("no rule matched for term x64_lea").
        let r = add_i32(&mut jit, "bad", types::I32X2);
        assert!(matches!(r, Err(JitError::Panic { .. }) | Err(JitError::Module { .. })), "{r:?}");
        if matches!(r, Err(JitError::Panic { .. })) {
            assert!(matches!(add_i32(&mut jit, "after", types::I32), Err(JitError::Poisoned)));
        }
    }

    /// Regression (fuzz target `differential` under AddressSanitizer): data objects must be
    /// addressed absolutely (not colocated, so no 32-bit PC-relative relocation), or linking
    /// panics when data and code are mapped more than 2 GiB apart.
    #[test]
    fn codegen_jit_data_is_addressed_absolutely() {
        let mut jit = CodeModule::new(IsaChoice::Native).unwrap();
        let d = jit.define_data("table", 7u32.to_le_bytes().to_vec(), 16).unwrap();
        let mut sig = jit.make_signature();
        sig.returns.push(AbiParam::new(types::I32));
        let ptr = jit.target().pointer_type;
        let id = jit
            .define_with_data("read", sig, &[d], |b, _, gvs| {
                let absolute =
                    matches!(b.func.global_values[gvs[0]], GlobalValueData::Symbol { colocated: false, .. });
                assert!(absolute, "data must not be colocated");
                let blk = b.create_block();
                b.switch_to_block(blk);
                let a = b.ins().symbol_value(ptr, gvs[0]);
                let v = b.ins().load(types::I32, cranelift_codegen::ir::MemFlagsData::new(), a, 0);
                b.ins().return_(&[v]);
            })
            .unwrap();
        jit.finalize().unwrap();
        // SAFETY: `read` was compiled with the C signature () -> i32 and `jit` is alive.
        let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(jit.function(id).unwrap().as_ptr()) };
        assert_eq!(f(), 7);
    }

    #[test]
    fn codegen_jit_unsupported_type_is_error() {
        let mut jit = CodeModule::new(IsaChoice::Native).unwrap();
        let r = add_i32(&mut jit, "wide", types::I32X8);
        assert!(r.is_err(), "256-bit vectors are not lowered on x64");
    }
}
