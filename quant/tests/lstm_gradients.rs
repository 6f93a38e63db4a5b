//! LSTM BPTT gradients against central finite differences (f64): every parameter (gate weights
//! on h and on x, gate biases, readout), both readouts, both losses, one and two threads.
//!
//! The bound is the ORNN's (`1e−5` of the largest gradient entry). It does catch wrong
//! gradients (checked by hand when this test was written): with the forget-gate factor of the
//! cell carry dropped (`dc_{t−1} = dc_t` instead of `dc_t ⊙ f`) the first entry of dW is off by
//! 40× the tolerance, with the output gate's tanh(c_t) factor dropped by 300×.

use crate::gradients::{check, finite_differences};
use qornn_quant::bptt::{Batch, LossKind, Readout};
use qornn_quant::lstm::{LstmEngine, LstmModel, LstmParams, LstmShape};
use qornn_quant::tensors::Tensors;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn batch(s: &LstmShape, steps: usize, size: usize, seed: u64) -> Batch {
    super::gradients::random_batch((s.m, s.d), s.readout, s.loss, steps, size, seed)
}

fn model(s: LstmShape, seed: u64) -> LstmModel<f64> {
    let mut m = LstmModel::<f64>::new(s, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 1);
    // larger weights than the initialisation: saturating gates and a cell that carries
    // information over many steps both get exercised
    for p in m.params.parts_mut() {
        for v in p.iter_mut() {
            *v += rng.random_range(-0.6..0.6);
        }
    }
    m
}

fn loss(m: &LstmModel<f64>, b: &Batch, eng: &mut LstmEngine<f64>) -> f64 {
    eng.run(m, b, false).0.loss()
}

fn grads(m: &LstmModel<f64>, b: &Batch, eng: &mut LstmEngine<f64>) -> LstmParams<f64> {
    eng.run(m, b, true).1.cloned().expect("grads")
}

fn fd(m: &mut LstmModel<f64>, part: usize, b: &Batch, eng: &mut LstmEngine<f64>) -> Vec<f64> {
    finite_differences(m, part, |m| &mut m.params, |m| loss(m, b, eng))
}

fn shapes() -> Vec<LstmShape> {
    [
        (Readout::Every, LossKind::CrossEntropy),
        (Readout::Last, LossKind::CrossEntropy),
        (Readout::Last, LossKind::Mse),
        (Readout::Every, LossKind::Mse),
    ]
    .into_iter()
    .map(|(readout, loss)| LstmShape {
        n: 5,
        m: 3,
        d: 4,
        readout,
        loss,
    })
    .collect()
}

const NAMES: [&str; 4] = ["W", "b", "V", "c"];

#[test]
fn every_parameter_matches_finite_differences() {
    for (k, s) in shapes().into_iter().enumerate() {
        let mut eng = LstmEngine::new(2);
        let b = batch(&s, 8, 5, 10 + k as u64);
        let mut m = model(s, 3 + k as u64);
        let g = grads(&m, &b, &mut eng);
        for (p, name) in NAMES.iter().enumerate() {
            let num = fd(&mut m, p, &b, &mut eng);
            check(&format!("{s:?} d{name}"), g.parts()[p], &num);
        }
        // the check is not vacuous: every part has a gradient well above the tolerance
        for (p, name) in NAMES.iter().enumerate() {
            let big = g.parts()[p].iter().fold(0.0f64, |a, &v| a.max(v.abs()));
            assert!(big > 1e-3, "{s:?} d{name} is (nearly) zero: {big}");
        }
    }
}

#[test]
fn thread_split_does_not_change_gradients() {
    let s = shapes()[0];
    let b = batch(&s, 9, 7, 99);
    let m = model(s, 5);
    let g1 = grads(&m, &b, &mut LstmEngine::new(1));
    let g2 = grads(&m, &b, &mut LstmEngine::new(2));
    for (a, c) in g1.parts().iter().zip(g2.parts()) {
        check("threads", a, c);
    }
}

#[test]
fn parameter_counts_and_matching() {
    use qornn_quant::bptt::{Activation, NetShape};
    use qornn_quant::lstm::lstm_hidden_for_params;
    let s = LstmShape {
        n: 7,
        m: 3,
        d: 2,
        readout: Readout::Last,
        loss: LossKind::Mse,
    };
    let m = LstmModel::<f32>::new(s, 1);
    let stored: usize = m.params.parts().iter().map(|p| p.len()).sum();
    assert_eq!(m.param_count(), stored);
    let ornn = |n: usize| NetShape {
        n,
        m: 10,
        d: 9,
        activation: Activation::Relu,
        readout: Readout::Every,
        loss: LossKind::CrossEntropy,
    };
    assert_eq!(ornn(4).param_count(), 16 + 40 + 4 + 36 + 9);
    // copy task, n = 128: 18 953 ORNN parameters (ReLU); LSTMs of 63 and 62 have 19 224 (closest) and
    // 18 671
    let n = lstm_hidden_for_params(128, 10, 9);
    let lstm = |n: usize| LstmShape {
        n,
        m: 10,
        d: 9,
        readout: Readout::Every,
        loss: LossKind::CrossEntropy,
    };
    let target = ornn(128).param_count() as i64;
    for other in [n - 1, n + 1] {
        assert!(
            (lstm(n).param_count() as i64 - target).abs()
                <= (lstm(other).param_count() as i64 - target).abs()
        );
    }
    assert_eq!(n, 63);
    assert_eq!(lstm_hidden_for_params(1, 1, 1), 1);
}
