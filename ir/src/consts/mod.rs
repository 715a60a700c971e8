//! Constants computed at compile time in f64: windows, mel filterbanks and Keras's DFT basis (the cepstral
//! family's matrices live with its declaration, `graph/cepstral.rs`). Formulas follow the reference libraries line by line (sources named at
//! each function).

pub mod dft;
pub mod mel;
pub mod window;
