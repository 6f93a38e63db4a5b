//! The proptest strategy of random models the property tests share: shape, widths, σ, weight
//! style and gain drawn independently; each test chooses how large n and the gain may be.

use proptest::prelude::*;
use qornn_sim::random::{RandomSpec, WeightStyle};
use qornn_sim::{Bits, Shape};

/// Random model specifications with n from `hidden` and the weight gain from `gain`; m in
/// 1–4, d in 1–5, every width its contract allows (k_w, k_v 2–8, k_a 4–16, k_x 2–16).
pub fn random_spec(
    hidden: impl Strategy<Value = usize>,
    gain: impl Strategy<Value = f64>,
) -> impl Strategy<Value = RandomSpec> {
    (
        (hidden, 1usize..5, 1usize..6),
        (2u32..=8, 2u32..=8, 4u32..=16, 2u32..=16),
        any::<bool>(),
        any::<bool>(),
        gain,
        any::<u64>(),
    )
        .prop_map(
            |((n, m, d), (kw, kv, ka, kx), modrelu, uniform, gain, seed)| RandomSpec {
                shape: Shape {
                    hidden: n,
                    input: m,
                    output: d,
                },
                weight_bits: Bits::new(kw),
                output_weight_bits: Bits::new(kv),
                activation_bits: Bits::new(ka),
                input_bits: Bits::new(kx),
                modrelu,
                style: if uniform {
                    WeightStyle::Uniform
                } else {
                    WeightStyle::Orthogonal
                },
                gain,
                seed,
            },
        )
}
