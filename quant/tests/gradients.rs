//! BPTT gradients against central finite differences (f64), for ReLU and modReLU, both
//! readouts and losses, with and without the weight quantiser's STE, through the Björck
//! iterations and the spectral normalisation.

use qornn_quant::bptt::{
    Activation, Batch, Engine, Grads, LossKind, NetShape, PassOptions, Readout, Targets,
};
use qornn_quant::model::{Init, Model, ModelConfig, Ortho};
use qornn_quant::ortho::BjorckConfig;
use qornn_quant::quantize::WeightBits;
use qornn_quant::tensors::Tensors;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A batch of random inputs in [−1, 1) and random targets (labels, with −1 for "not scored",
/// or values) for a network of `m` inputs and `d` outputs; shared with the LSTM's checks.
pub(crate) fn random_batch(
    (m, d): (usize, usize),
    readout: Readout,
    loss: LossKind,
    steps: usize,
    size: usize,
    seed: u64,
) -> Batch {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = (0..size * steps * m)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let outs = match readout {
        Readout::Every => size * steps,
        Readout::Last => size,
    };
    let targets = match loss {
        LossKind::CrossEntropy => Targets::Classes {
            labels: (0..outs).map(|_| rng.random_range(-1..d as i32)).collect(),
            score_from: 0,
        },
        LossKind::Mse => Targets::Values(
            (0..outs * d)
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect(),
        ),
    };
    Batch {
        steps,
        size,
        width: m,
        x,
        targets,
    }
}

fn batch(s: &NetShape, steps: usize, size: usize, seed: u64) -> Batch {
    random_batch((s.m, s.d), s.readout, s.loss, steps, size, seed)
}

fn model(s: NetShape, ortho: Ortho, bits: WeightBits, seed: u64) -> Model<f64> {
    let cfg = ModelConfig {
        shape: s,
        ortho,
        weight_bits: bits,
        output_bits: bits,
        init: Init::Random,
    };
    let mut m = Model::<f64>::new(cfg, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 1);
    // move away from an exactly orthogonal latent (degenerate spectral norm) and zero biases
    for p in m.params.parts_mut() {
        for v in p.iter_mut() {
            *v += rng.random_range(-0.3..0.3);
        }
    }
    m
}

fn loss(m: &mut Model<f64>, b: &Batch, eng: &mut Engine<f64>) -> f64 {
    m.prepare(400);
    let s = m.shape();
    eng.run(&s, &m.weights(), b, PassOptions::default())
        .0
        .loss()
}

fn grads(m: &mut Model<f64>, b: &Batch, eng: &mut Engine<f64>) -> (Grads<f64>, Grads<f64>) {
    m.prepare(400);
    let s = m.shape();
    let opt = PassOptions {
        backward: true,
        ..Default::default()
    };
    let g_eff = eng.run(&s, &m.weights(), b, opt).1.cloned().expect("grads");
    let mut g = g_eff.clone();
    m.chain_to_latent(&mut g);
    (g_eff, g)
}

/// Analytic against finite-difference gradients, entry by entry, relative to the largest
/// magnitude of either (shared with the LSTM's checks).
pub(crate) fn check(name: &str, analytic: &[f64], numeric: &[f64]) {
    let scale = numeric
        .iter()
        .chain(analytic)
        .fold(1e-6f64, |a, &v| a.max(v.abs()));
    for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        assert!(
            (a - n).abs() <= 1e-5 * scale + 1e-7,
            "{name}[{i}]: analytic {a} vs finite difference {n} (scale {scale})"
        );
    }
}

/// Central finite differences of `loss` over every entry of tensor `part` of a network's
/// parameters (`params` names them inside the network `m`); shared with the LSTM's checks.
pub(crate) fn finite_differences<M, P: Tensors<f64, N>, const N: usize>(
    m: &mut M,
    part: usize,
    params: impl Fn(&mut M) -> &mut P,
    mut loss: impl FnMut(&mut M) -> f64,
) -> Vec<f64> {
    let h = 1e-6;
    let len = params(m).parts()[part].len();
    (0..len)
        .map(|i| {
            let x = params(m).parts()[part][i];
            params(m).parts_mut()[part][i] = x + h;
            let up = loss(m);
            params(m).parts_mut()[part][i] = x - h;
            let dn = loss(m);
            params(m).parts_mut()[part][i] = x;
            (up - dn) / (2.0 * h)
        })
        .collect()
}

/// Finite differences over tensor `part` of an ORNN's parameters.
fn fd(m: &mut Model<f64>, part: usize, f: &mut dyn FnMut(&mut Model<f64>) -> f64) -> Vec<f64> {
    finite_differences(m, part, |m| &mut m.params, f)
}

fn shapes() -> Vec<NetShape> {
    let mut v = Vec::new();
    for activation in [Activation::Relu, Activation::Modrelu] {
        for (readout, loss) in [
            (Readout::Every, LossKind::CrossEntropy),
            (Readout::Last, LossKind::CrossEntropy),
            (Readout::Last, LossKind::Mse),
            (Readout::Every, LossKind::Mse),
        ] {
            v.push(NetShape {
                n: 6,
                m: 3,
                d: 4,
                activation,
                readout,
                loss,
            });
        }
    }
    v
}

const NAMES: [&str; 6] = ["W", "U", "b", "beta", "V", "c"];

#[test]
fn full_precision_end_to_end() {
    // Loss as a function of every latent parameter, through Björck and the spectral norm.
    for (k, s) in shapes().into_iter().enumerate() {
        for ortho in [Ortho::Free, Ortho::Bjorck(BjorckConfig::default())] {
            let mut eng = Engine::new(2);
            let b = batch(&s, 7, 5, 10 + k as u64);
            let mut m = model(s, ortho, WeightBits::Full, 3 + k as u64);
            let (_, g) = grads(&mut m, &b, &mut eng);
            for (p, name) in NAMES.iter().enumerate() {
                if *name == "beta" && s.activation == Activation::Relu {
                    continue;
                }
                let num = fd(&mut m, p, &mut |m| loss(m, &b, &mut eng));
                check(&format!("{s:?} {ortho:?} d{name}"), g.parts()[p], &num);
            }
        }
    }
}

#[test]
fn straight_through_quantiser() {
    // With k-bit weights: (1) the BPTT gradients with respect to the effective (quantised)
    // weights match finite differences in those weights; (2) the latent gradient is the
    // straight-through chain, i.e. the derivative of ⟨g_eff, P(latent)⟩ for the
    // orthogonalisation P (Björck) or the identity.
    for (k, s) in shapes().into_iter().enumerate().step_by(3) {
        for ortho in [Ortho::Free, Ortho::Bjorck(BjorckConfig::default())] {
            let mut eng = Engine::new(2);
            let b = batch(&s, 6, 4, 40 + k as u64);
            let mut m = model(s, ortho, WeightBits::Bits(4), 7 + k as u64);
            let (g_eff, g) = grads(&mut m, &b, &mut eng);
            // (1) a full-precision model whose latent weights are the quantised ones
            let mut fp = m.clone();
            fp.config.ortho = Ortho::Free;
            fp.config.weight_bits = WeightBits::Full;
            fp.config.output_bits = WeightBits::Full;
            let w = m.weights();
            fp.params.w = w.w.to_vec();
            fp.params.u = w.u.to_vec();
            fp.params.v = w.v.to_vec();
            for p in [0usize, 1, 4] {
                let num = fd(&mut fp, p, &mut |m| loss(m, &b, &mut eng));
                check(
                    &format!("{s:?} effective d{}", NAMES[p]),
                    g_eff.parts()[p],
                    &num,
                );
            }
            // (2) STE: U and V gradients pass unchanged; W through P
            assert_eq!(g.u, g_eff.u);
            assert_eq!(g.v, g_eff.v);
            let ge = g_eff.w.clone();
            let mut surrogate = m.clone();
            surrogate.config.weight_bits = WeightBits::Full;
            let num = fd(&mut surrogate, 0, &mut |m| {
                m.prepare(400);
                m.w_orthogonal().iter().zip(&ge).map(|(a, b)| a * b).sum()
            });
            check(&format!("{s:?} {ortho:?} STE latent dW"), &g.w, &num);
        }
    }
}

#[test]
fn thread_split_does_not_change_gradients() {
    let s = shapes()[1];
    let b = batch(&s, 9, 7, 99);
    let mut m = model(
        s,
        Ortho::Bjorck(BjorckConfig::default()),
        WeightBits::Full,
        5,
    );
    let (_, g1) = grads(&mut m, &b, &mut Engine::new(1));
    let (_, g2) = grads(&mut m, &b, &mut Engine::new(2));
    for (a, c) in g1.parts().iter().zip(g2.parts()) {
        check("threads", a, c);
    }
}
