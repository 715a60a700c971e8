//! Ahead-of-time compilation: an optimized graph becomes an object file and a C header.
//!
//! The object holds, for each precision the graph can run in (f32, and f64 where the spec
//! follows a float64 input), the same kernels the JIT compiles (without the JIT's run-time
//! choice of the wide AVX2 FFT kernels), exported as `specc_<name>_<f32|f64>_<kernel>`, and one
//! descriptor, `specc_<name>_program` ([`specc_ir::aot::Descriptor`]): the optimized graph and
//! each program's scratch layout and kernel table. The C runtime (`specc-capi`) reads the
//! descriptor and drives the kernels with the same driver as the JIT (`specc-rt`).
//!
//! The header declares the runtime's C API and, for this spec, `static inline` wrappers that
//! pass its descriptor: `specc_<name>_plan`, `specc_<name>_run_f32`, `specc_<name>_run_f64`.

use specc_ir::aot::{offsets, AotProgram, Blob, FORMAT, MAGIC, MAX_RANK, STATUSES, VERSION};

use super::jit::{CodeModule, ObjectTarget};
use super::program::{emit, plan_of, CodegenError};
use crate::graph::{DTypeRule, Graph, Precision};

/// An object file and its header.
#[derive(Clone, Debug)]
pub struct AotOutput {
    /// The object file's bytes (ELF, or Mach-O for Apple targets).
    pub object: Vec<u8>,
    /// The C header.
    pub header: String,
    /// The exported symbols: the descriptor, then every kernel.
    pub symbols: Vec<String>,
    /// The target triple the object is for.
    pub triple: String,
    /// What each program runs (precision, lanes, FFT plan), as `specc check` describes a JIT
    /// program.
    pub programs: Vec<String>,
}

/// `name` if it can prefix C identifiers (`[A-Za-z_][A-Za-z0-9_]*`, at most 64 bytes), else why not.
pub fn check_name(name: &str) -> Result<&str, String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(format!(
            "`{name}` cannot name C symbols: use letters, digits and `_`, not starting with a digit (--name)"
        ))
    }
}

/// The precisions an input can make `g` run in: its fixed precision, or f32 and (if it accepts
/// float64 arrays) f64 when it follows the input.
pub fn precisions(g: &Graph) -> Vec<Precision> {
    match g.dtype {
        DTypeRule::Fixed(p) => vec![p],
        DTypeRule::FollowInput => {
            let mut v = Vec::new();
            if g.accepts.iter().any(|a| a == "float32") {
                v.push(Precision::F32);
            }
            if g.accepts.iter().any(|a| a == "float64") {
                v.push(Precision::F64);
            }
            v
        }
    }
}

/// Compiles the optimized graph `g` into an object for `target` whose symbols start with
/// `specc_<name>_`, and its header. `command` is quoted in the header (how it was made).
pub fn compile_object(
    g: &Graph,
    name: &str,
    target: &ObjectTarget,
    command: &str,
) -> Result<AotOutput, CodegenError> {
    check_name(name).map_err(|e| CodegenError::Jit(super::JitError::Target(e)))?;
    let plan = plan_of(g)?;
    let mut m = CodeModule::object(target, &format!("specc_{name}"))?;
    let triple = m.triple();
    let mut programs = Vec::new();
    let mut table = Vec::new();
    let mut symbols = vec![format!("specc_{name}_program")];
    let mut described = Vec::new();
    for p in precisions(g) {
        let prefix = format!("specc_{name}_{}_", p.as_str());
        m.set_prefix(&prefix);
        let e = emit(&plan, p, false, &mut m)?;
        symbols.extend(e.layout.slots().iter().map(|s| format!("{prefix}{}", slot_name(*s))));
        described.push(e.info.description.clone());
        programs.push(AotProgram { info: e.info, layout: e.layout, first: table.len() });
        table.extend(e.ids);
    }
    m.set_prefix(&format!("specc_{name}_"));
    let blob = Blob { version: VERSION.to_string(), name: name.to_string(), graph: g.clone(), programs }
        .encode()
        .map_err(|e| CodegenError::Jit(super::JitError::Target(e)))?;
    let blob_len = blob.len();
    let blob_id = m.define_data("blob", blob, 8)?;
    let table_bytes = vec![0u8; 8 * table.len().max(1)];
    let funcs: Vec<(usize, _)> = table.iter().enumerate().map(|(i, &f)| (8 * i, f)).collect();
    let table_id = m.define_linked_data("kernels", table_bytes, 8, &funcs, &[], false)?;
    let mut d = Vec::with_capacity(offsets::SIZE);
    d.extend(MAGIC);
    d.extend(FORMAT.to_le_bytes());
    d.extend(8u32.to_le_bytes());
    d.extend(0u64.to_le_bytes());
    d.extend((blob_len as u64).to_le_bytes());
    d.extend(0u64.to_le_bytes());
    d.extend((table.len() as u64).to_le_bytes());
    debug_assert_eq!(d.len(), offsets::SIZE);
    m.define_linked_data(
        "program",
        d,
        8,
        &[],
        &[(offsets::BLOB, blob_id), (offsets::TABLE, table_id)],
        true,
    )?;
    let object = m.finish_object()?;
    let header = header(g, name, &triple, target, command);
    Ok(AotOutput { object, header, symbols, triple, programs: described })
}

fn slot_name(s: specc_ir::aot::Slot) -> String {
    use specc_ir::aot::Slot;
    match s {
        Slot::Load => String::from("load"),
        Slot::Fft => String::from("fft"),
        Slot::Dft => String::from("dft"),
        Slot::Tail => String::from("tail"),
        Slot::Clip => String::from("clip"),
        Slot::Dense => String::from("dense"),
        Slot::Cross(i) => format!("cross_frame{i}"),
    }
}

/// The runtime's C API, shared by every spec's header (guarded, so several headers can be
/// included together): `capi/src/lib.rs` implements these functions. The status codes and the
/// rank limit come from `specc_ir::aot` ([`runtime_api`]).
const RUNTIME_API: &str = r#"#ifndef SPECC_RUNTIME_API
#define SPECC_RUNTIME_API 1

/* Status codes: 0 is success; specc_strerror names each, specc_last_error says what exactly
 * went wrong in this thread's last failed call. */
enum specc_status {
@STATUSES@};

/* The largest rank of an input or output. */
#define SPECC_MAX_RANK @MAX_RANK@

/* A compiled spec: the descriptor an object exports as specc_<name>_program. */
typedef struct specc_program specc_program;

/* The output shape (row-major) for an input of `shape` (`rank` axes): writes `*out_rank`
 * sizes to `out_shape`, which holds SPECC_MAX_RANK. Checks everything a run checks but the
 * samples' values. */
int specc_plan(const specc_program* program, const size_t* shape, size_t rank,
               size_t* out_shape, size_t* out_rank);

/* Runs the spec on a float32 (or float64) row-major input of `shape`, writing the planned
 * output (`output_len` elements, the product of the planned shape) to `output`, on `threads`
 * threads (0 = one per core). The output's element type is the spec's precision for that
 * input: a spec that computes in float32 whatever the input takes specc_run_f32 only.
 * Nothing is written on failure. */
int specc_run_f32(const specc_program* program, const float* input, const size_t* shape,
                  size_t rank, float* output, size_t output_len, size_t threads);
int specc_run_f64(const specc_program* program, const double* input, const size_t* shape,
                  size_t rank, double* output, size_t output_len, size_t threads);

/* A static description of a status code. */
const char* specc_strerror(int status);

/* The message of this thread's last failed call ("" if none); valid until its next call. */
const char* specc_last_error(void);

#endif /* SPECC_RUNTIME_API */
"#;

/// [`RUNTIME_API`] with the status enumerators and the rank limit of `specc_ir::aot`.
fn runtime_api() -> String {
    let mut statuses = String::new();
    let last = STATUSES.len() - 1;
    for (i, s) in STATUSES.iter().enumerate() {
        let item = format!("    {} = {}{}", s.name, s.code, if i == last { "" } else { "," });
        statuses += &if s.detail.is_empty() { item } else { format!("{item:<28}/* {} */", s.detail) };
        statuses.push('\n');
    }
    RUNTIME_API.replace("@STATUSES@", &statuses).replace("@MAX_RANK@", &MAX_RANK.to_string())
}

fn header(g: &Graph, name: &str, triple: &str, target: &ObjectTarget, command: &str) -> String {
    let guard = format!("SPECC_{}_H", name.to_ascii_uppercase());
    let cpu = match target.cpu {
        super::jit::Cpu::Baseline => "baseline",
        super::jit::Cpu::Native => "native (the CPU that compiled it)",
        super::jit::Cpu::X86_64V3 => "x86-64-v3",
    };
    let axes = g.user_axes().join(", ");
    let out_axes: Vec<String> = g.output_type().axes.iter().map(|a| a.name.clone()).collect();
    let accepts = g.accepts.join(", ");
    let runs: Vec<&str> = precisions(g)
        .iter()
        .map(|p| match p {
            Precision::F32 => "specc_NAME_run_f32",
            Precision::F64 => "specc_NAME_run_f64",
        })
        .collect();
    let runs = runs.join(" and ").replace("NAME", name);
    format!(
        r#"/* {name}.h: generated by specc {VERSION} for {triple}, cpu {cpu}, with
 *   {command}
 * Input axes [{axes}] ({accepts}); output axes [{out}]; run it with {runs}.
 * Link the object with the specc runtime (`specc aot --lib` bundles both into one archive):
 *   cc app.c lib{name}.a -lm -lpthread -ldl
 * Do not edit: write it again with `specc aot`. */
#ifndef {guard}
#define {guard} 1

#include <stddef.h>

#ifdef __cplusplus
extern "C" {{
#endif

{api}
/* The compiled spec `{name}`. */
extern const specc_program specc_{name}_program;

static inline int specc_{name}_plan(const size_t* shape, size_t rank, size_t* out_shape, size_t* out_rank) {{
    return specc_plan(&specc_{name}_program, shape, rank, out_shape, out_rank);
}}

static inline int specc_{name}_run_f32(const float* input, const size_t* shape, size_t rank,
                                       float* output, size_t output_len, size_t threads) {{
    return specc_run_f32(&specc_{name}_program, input, shape, rank, output, output_len, threads);
}}

static inline int specc_{name}_run_f64(const double* input, const size_t* shape, size_t rank,
                                       double* output, size_t output_len, size_t threads) {{
    return specc_run_f64(&specc_{name}_program, input, shape, rank, output, output_len, threads);
}}

#ifdef __cplusplus
}}
#endif

#endif /* {guard} */
"#,
        out = out_axes.join(", "),
        api = runtime_api(),
        command = command.replace("*/", "* /"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::jit::Cpu;
    use crate::shipped_optimized as graph;
    use object::{Object, ObjectSymbol};

    /// The exported (global, defined) symbols of an object file.
    fn exported(bytes: &[u8]) -> (object::BinaryFormat, object::Architecture, Vec<String>) {
        let file = object::File::parse(bytes).expect("a well-formed object file");
        let mut names: Vec<String> = file
            .symbols()
            .filter(|s| s.is_global() && s.is_definition())
            .map(|s| s.name().unwrap().trim_start_matches('_').to_string())
            .collect();
        names.sort();
        (file.format(), file.architecture(), names)
    }

    /// Objects for x86-64 (ELF) and aarch64 (ELF, and Mach-O for iOS and macOS) are well formed
    /// and export the same symbols: the descriptor and every kernel of both precisions.
    #[test]
    fn objects_for_every_target_export_the_descriptor_and_the_kernels() {
        use object::{Architecture as A, BinaryFormat as F};
        let g = graph("librosa_mfcc", &["deltas=2"]);
        let targets = [
            ("x86_64-unknown-linux-gnu", Cpu::Baseline, F::Elf, A::X86_64),
            ("x86_64-unknown-linux-gnu", Cpu::X86_64V3, F::Elf, A::X86_64),
            ("aarch64-unknown-linux-gnu", Cpu::Baseline, F::Elf, A::Aarch64),
            ("aarch64-apple-darwin", Cpu::Baseline, F::MachO, A::Aarch64),
            ("aarch64-apple-ios", Cpu::Baseline, F::MachO, A::Aarch64),
        ];
        let mut first: Option<Vec<String>> = None;
        for (triple, cpu, format, arch) in targets {
            let t = ObjectTarget { triple: Some(triple.to_string()), cpu };
            let out = compile_object(&g, "mfcc", &t, "test").unwrap();
            let (f, a, names) = exported(&out.object);
            assert_eq!((f, a), (format, arch), "{triple}");
            let mut want = out.symbols.clone();
            want.sort();
            assert_eq!(names, want, "{triple}");
            assert!(names.contains(&String::from("specc_mfcc_program")));
            assert!(names.contains(&String::from("specc_mfcc_f64_cross_frame0")), "{names:?}");
            match &first {
                Some(f) => assert_eq!(&names, f, "{triple}: the same symbols"),
                None => first = Some(names),
            }
        }
    }

    /// Every shipped spec lowers for aarch64 as well as for x86-64 (Cranelift's aarch64 back
    /// end lowers a subset of vector compares: the kernels use only that subset).
    #[test]
    fn every_preset_compiles_for_aarch64_and_x86_64() {
        let dir = format!("{}/../specs", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let Some(spec) = path.file_stem().and_then(|s| s.to_str()) else { continue };
            let g = graph(spec, &[]);
            for triple in ["aarch64-apple-ios", "x86_64-unknown-linux-gnu"] {
                let t = ObjectTarget { triple: Some(triple.to_string()), cpu: Cpu::Baseline };
                let r = compile_object(&g, "x", &t, "");
                assert!(r.is_ok(), "{spec} for {triple}: {:?}", r.err());
            }
        }
    }

    #[test]
    fn bad_names_and_targets_are_errors() {
        let g = graph("keras_mel", &[]);
        let t = ObjectTarget { triple: None, cpu: Cpu::Baseline };
        for bad in ["", "9mel", "mel-spec", "mél"] {
            let e = compile_object(&g, bad, &t, "").unwrap_err().to_string();
            assert!(e.contains("cannot name C symbols"), "{bad}: {e}");
        }
        let t = ObjectTarget { triple: Some(String::from("sparc-sun-solaris")), cpu: Cpu::Baseline };
        let e = compile_object(&g, "mel", &t, "").unwrap_err().to_string();
        assert!(e.contains("sparc"), "{e}");
        let t = ObjectTarget { triple: Some(String::from("aarch64-apple-ios")), cpu: Cpu::X86_64V3 };
        let e = compile_object(&g, "mel", &t, "").unwrap_err().to_string();
        assert!(e.contains("x86-64 level"), "{e}");
        let t = ObjectTarget { triple: Some(String::from("aarch64-apple-ios")), cpu: Cpu::Native };
        let e = compile_object(&g, "mel", &t, "").unwrap_err().to_string();
        assert!(e.contains("host target"), "{e}");
    }

    /// The descriptor's blob reads back to the graph and programs that were written.
    #[test]
    fn the_blob_round_trips() {
        let g = graph("kaldi_fbank", &["subtract_mean=true"]);
        let t = ObjectTarget { triple: None, cpu: Cpu::Baseline };
        let out = compile_object(&g, "fbank", &t, "").unwrap();
        let file = object::File::parse(&*out.object).unwrap();
        let blob = file.symbols().find(|s| s.name() == Ok("specc_fbank_blob")).expect("the blob symbol");
        let section = file.section_by_index(blob.section_index().unwrap()).unwrap();
        use object::ObjectSection;
        let data = section.data().unwrap();
        let start = (blob.address() - section.address()) as usize;
        let b = Blob::decode(&data[start..]).unwrap();
        assert_eq!(b.graph, g);
        assert_eq!(b.name, "fbank");
        assert_eq!(b.programs.len(), precisions(&g).len());
        assert!(b.programs.iter().any(|p| p.layout.cross == vec![crate::kernel::CrossFrame::SubtractMean]));
    }
}
