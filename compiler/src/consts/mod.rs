//! Constants computed at compile time in f64: windows, mel filterbanks, DCT matrices, lifters
//! and delta weights. Formulas follow the reference libraries line by line (sources named at
//! each function).

pub mod cepstral;
pub mod mel;
pub mod window;
