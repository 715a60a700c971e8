//! Arbitrary bytes through the `.npy` reader ([`specc::npy::read_bytes`], the code path of
//! [`specc::npy::read`] after opening the file). An array that reads is then planned against a
//! small Keras mel pipeline and, when tiny, run on the interpreter, so odd shapes, byte orders,
//! Fortran order and non-finite values reach the runtime too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn pipeline() -> &'static specc::Pipeline {
    static P: OnceLock<specc::Pipeline> = OnceLock::new();
    P.get_or_init(|| {
        specc::Pipeline::preset(
            "keras_mel",
            &["fft_length=64", "sequence_stride=16", "num_mel_bins=8", "sampling_rate=8000"],
        )
        .expect("preset compiles")
        .with_engine(specc::Engine::Interp)
    })
}

fuzz_target!(|data: &[u8]| {
    let a = match specc::npy::read_bytes("fuzz.npy", data) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let x = a.view();
    let p = pipeline();
    if p.plan(x.shape(), x.dtype_name()).is_ok() && x.shape().iter().product::<usize>() <= 4096 {
        let _ = p.run(&x).map_err(|e| e.to_string());
    }
});
