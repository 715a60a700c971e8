//! Constants computed at compile time in f64: windows and mel filterbanks (the cepstral
//! family's matrices live with its declaration, `graph/cepstral.rs`). Formulas follow the reference libraries line by line (sources named at
//! each function).

pub mod mel;
pub mod window;
