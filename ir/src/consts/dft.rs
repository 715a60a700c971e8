//! The DFT basis of `rfft(..., basis: f32)`: Keras's STFT kernels, built in float32 as XLA
//! compiles `keras.initializers.STFT`.

/// Entry `(cos, sin)` for tap `t` and bin `k` of a float32 DFT basis of `period` points, as
/// Keras 3's `STFT` initializer builds it on JAX: `arg = (-2 * t) * (k / period) * pi` in
/// float32, with `pi = arccos(-1)` in float32 and the division compiled by XLA as a multiply by
/// the float32 reciprocal (`k * (1 / period)`: the argument equals JAX's on every entry of the
/// eight periods from 164 to 1024 compared), then `cos` and `sin` of that float32 argument
/// (XLA's have the same signs), rounded to float32.
///
/// For finite samples only the entries' rounding matters. For an infinite one the zeros and
/// signs decide the bin: the sine is exactly zero at `t * k = 0` alone (`inf * 0` is NaN), and
/// the sign of a near-zero entry decides whether the bin is `+inf` or `-inf`.
pub fn keras_basis(t: usize, k: usize, period: usize) -> (f64, f64) {
    let freq = k as f32 * (1.0f32 / period as f32);
    let arg = ((-2.0f32 * t as f32) * freq * std::f32::consts::PI) as f64;
    (arg.cos() as f32 as f64, arg.sin() as f32 as f64)
}

#[cfg(test)]
mod tests {
    use super::keras_basis;

    /// Entries read from Keras 3.15.1's `STFTSpectrogram(frame_length=400, fft_length=400)`
    /// kernels (divided by the window): the reciprocal multiply makes `k / 400` for k = 20
    /// 0.049999997, so the argument at t = 5 is just above -pi/2 and the cosine positive.
    #[test]
    fn near_zero_entries_have_keras_signs() {
        let (c, s) = keras_basis(5, 20, 400);
        assert!(c > 0.0 && c < 1e-7, "{c}");
        assert_eq!(s, -1.0);
        assert_eq!(keras_basis(0, 7, 400), (1.0, 0.0));
        assert!(keras_basis(3, 0, 400).1 == 0.0);
    }
}
